"""What a role may see of treatment allocation. In a blinded study only the roles that prepare
or administer the infusion (coordinator) and the admin see arms; raters, the PI and monitors
rate and review blind."""

UNBLINDED_ROLES = frozenset({"admin", "coordinator"})


def may_see_arm(role: str, study_blinded: bool) -> bool:
    return not study_blinded or role in UNBLINDED_ROLES
