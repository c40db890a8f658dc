"""Data export: any of the exports (CSV, CDISC SDTM, FHIR R4, REDCap) as one ZIP download, for
the PI, monitors and admins. The files are the ones the command line writes (exports.bundle
builds them with the same functions); the account's site and role decide the scope and the
blinding, and every download is an audit event. A progress bar follows a large study's export."""

import logging

import streamlit as st

from db import sites
from db.connection import unit_of_work
from exports.bundle import KINDS, build_zip, default_study_id
from exports.cli import CommandError
from ui.blinding import arm_visible
from ui.session import require_page
from ui.study import current_protocol
from ui.text import md

user = require_page("export")
protocol = current_protocol()
BUILT_KEY = "export:built"

st.title("Data export")
st.caption(
    "Choose what to export; the files come as one ZIP, exactly as the command line `python -m exports` "
    "writes them. Drafts are not exported. Every export is recorded in the audit trail."
)

with unit_of_work(write=False) as db:
    site_codes = {s["id"]: s["code"] for s in sites.list_sites(db)}

if user.get("site_id") is not None:
    site = site_codes.get(user["site_id"])
    st.info(
        f"Your account belongs to site {md(site)}: the export holds that site's participants only.",
        icon=":material/location_on:",
    )
else:
    choice = st.selectbox("Site", ["All sites", *sorted(site_codes.values())], key="export:site")
    site = None if choice == "All sites" else choice

if not arm_visible(user["role"], protocol):
    st.info(
        "The study is blinded and your role does not see treatment allocation: arms, treatments and doses are "
        "exported as BLINDED.",
        icon=":material/visibility_off:",
    )

st.subheader("Formats")
kinds = [
    kind.id
    for kind in KINDS.values()
    if st.checkbox(kind.label, key=f"export:kind:{kind.id}", help=kind.help, value=kind.id == "csv")
]
study_id = None
if "sdtm" in kinds:
    study_id = st.text_input(
        "Study ID (SDTM STUDYID)",
        value=default_study_id(protocol),
        key="export:study-id",
        max_chars=20,
        help="1-20 letters, digits, '-' or '_'; it starts every USUBJID",
    ).strip()

request = (tuple(kinds), site, study_id)
if st.button("Build the ZIP file", type="primary", key="export:build", disabled=not kinds):
    st.session_state.pop(BUILT_KEY, None)
    bar = st.progress(0.0, text="Starting the export")
    try:
        built = build_zip(
            None,
            user,
            kinds,
            site,
            lambda done, text: bar.progress(min(done, 1.0), text=text),
            study_id=study_id,
            protocol=protocol,
        )
    except CommandError as exc:
        bar.empty()
        for problem in exc.problems:
            st.error(md(problem))
    except Exception as exc:  # an internal fault: said plainly (and logged), never a traceback on screen
        logging.getLogger(__name__).exception("data export failed")
        bar.empty()
        st.error(
            md(
                f"The export could not be built because of an internal error ({type(exc).__name__}: {exc}). "
                "Nothing was exported or recorded; tell the data manager."
            )
        )
    else:
        bar.empty()
        st.session_state[BUILT_KEY] = {"request": request, "zip": built}
if not kinds:
    st.caption("Tick at least one format.")

done = st.session_state.get(BUILT_KEY)
if done is not None and done["request"] == request:  # never offer a ZIP built for another choice
    built = done["zip"]
    files = len(built.counts)
    st.success(
        md(
            f"{built.file_name}: {files} files, {built.total_records:,} records"
            f"{' for site ' + built.site if built.site else ' for all sites'}."
        )
    )
    if built.notice:
        st.warning(md(built.notice))
    for note in built.notes:
        st.caption(md(note))
    st.download_button(
        f"Download {md(built.file_name)}",
        data=built.data,
        file_name=built.file_name,
        mime="application/zip",
        key="export:download",
        on_click="ignore",
        type="primary",
        icon=":material/download:",
    )
