"""Scale library: every shipped definition with its items, anchors and scoring rules."""

from ui.scale_library import render_library
from ui.session import require_page

user = require_page("library")
render_library(user)  # an admin also sees which definition files were skipped, and why
