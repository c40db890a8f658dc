"""The participant's questionnaire (kiosk hand-over or one-time link): the only page app.py
routes to in participant mode. A reloaded browser that holds a link continues from the holder
secret in its address; otherwise the guard redeems a link token from the address (then removes
it), or refuses with one friendly sentence; nothing about staff, other participants or other
data is ever drawn here."""

from ui.participant_mode import require_participant_session
from ui.self_report import render_questionnaire, resume_from_address

resume_from_address()
actor = require_participant_session()
render_questionnaire(actor)
