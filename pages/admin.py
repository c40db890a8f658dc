"""Users and sites (admin only): create accounts and sites, change roles, deactivate, reset
passwords. Every action is checked again and audited in db.users / db.sites."""

import streamlit as st

from db import sites, users
from db.connection import unit_of_work
from db.permissions import ROLES
from ui.feedback import run_write as run
from ui.feedback import show_flash
from ui.pickers import scoped_key
from ui.scale_library import render_definition_problems
from ui.session import require_page

admin = require_page("admin")
st.title("Users and sites")
show_flash()
render_definition_problems(admin)  # scale definition files skipped as broken, named with their problem

with unit_of_work(write=False) as db:
    site_rows = sites.list_sites(db)
    user_rows = users.list_users(db)
site_codes = [s["code"] for s in site_rows]
site_by_id = {s["id"]: s["code"] for s in site_rows}

users_tab, sites_tab = st.tabs(["Users", "Sites"])

with users_tab:
    st.dataframe(
        [
            {
                "user": u["username"],
                "role": u["role"],
                "site": site_by_id.get(u["site_id"], "all sites"),
                "active": bool(u["active"]),
                "locked until (UTC)": u["locked_until"] or "",
                "last sign-in (UTC)": u["last_login_at"] or "",
            }
            for u in user_rows
        ],
        hide_index=True,
        width="stretch",
    )
    # No site is preselected (issue 13 item 15): the admin picks one, or ticks "all sites", which an
    # account may only get on purpose (it sees and changes every site's participants). db.users
    # refuses neither and both, after the user name and password checks, so each problem is named
    # in turn.
    with st.form("create_user", clear_on_submit=True):
        st.subheader("Create a user")
        username = st.text_input("User name")
        role = st.selectbox("Role", ROLES, index=ROLES.index("rater"))
        site = st.selectbox("Site", site_codes, index=None, placeholder="Choose the site the account works at")
        all_sites = st.checkbox("All sites: this account is tied to no site and works with every site's participants")
        password = st.text_input(
            "Initial password", type="password", help=f"At least {users.MIN_PASSWORD_LENGTH} characters"
        )
        if st.form_submit_button("Create user", type="primary"):
            run(
                lambda db: users.create_user(db, admin, username, role, password, site, all_sites=all_sites),
                f"User '{username}' created as {role}" + (f" at site {site}." if site else " for all sites."),
            )

    others = [u for u in user_rows if u["id"] != admin["id"]]
    if others:
        st.subheader("Change an account")
        target_name = st.selectbox("Account", [u["username"] for u in others], key="admin-account")
        target = next(u for u in others if u["username"] == target_name)

        def key(name: str) -> str:
            """Every control below belongs to the chosen account: a reason or a new password typed
            for one account must never be applied to the next one picked."""
            return scoped_key("account", target["id"], name)

        reason = st.text_input("Reason (recorded in the audit trail)", key=key("reason"))
        col1, col2, col3 = st.columns(3)
        with col1:
            new_role = st.selectbox("New role", ROLES, index=ROLES.index(target["role"]), key=key("role"))
            if st.button("Change role", key=key("change-role")):
                run(
                    lambda db: users.change_role(db, admin, target["id"], new_role, reason or None),
                    f"{target_name} is now {new_role}.",
                )
        with col2:
            if target["active"]:
                if st.button("Deactivate", key=key("deactivate")):
                    run(
                        lambda db: users.deactivate(db, admin, target["id"], reason or None),
                        f"{target_name} deactivated.",
                    )
            elif st.button("Reactivate", key=key("reactivate")):
                run(lambda db: users.reactivate(db, admin, target["id"], reason or None), f"{target_name} reactivated.")
        with col3:
            new_password = st.text_input("New password", type="password", key=key("new-password"))
            if st.button("Reset password", key=key("reset-password")):
                run(
                    lambda db: users.reset_password(db, admin, target["id"], new_password, reason or None),
                    f"Password of {target_name} reset; any lock-out is cleared.",
                )

with sites_tab:
    st.dataframe(
        [{"code": s["code"], "name": s["name"], "time zone": s["timezone"]} for s in site_rows],
        hide_index=True,
        width="stretch",
    )
    with st.form("create_site", clear_on_submit=True):
        st.subheader("Add a site")
        code = st.text_input("Site code")
        name = st.text_input("Site name")
        timezone = st.text_input("Time zone (IANA name)", value="Europe/London")
        if st.form_submit_button("Add site", type="primary"):
            run(lambda db: sites.create_site(db, admin, code, name or None, timezone), f"Site '{code}' added.")
