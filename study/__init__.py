"""The study's use cases: the rules that decide what is allowed or recorded when a rating is
started, given to a participant, imported, or read, each in one function called by every path
(the rate page and worklist, the self-report kiosk and link, the import of transcribed ratings,
the command line).

Every function takes `(db, actor, protocol, ...)` (read functions: `(db, actor, ...)`). This
package sits between the pages/widgets and storage: it may import db/, protocol/ and scales/,
and db/ never imports it (the layer order is pages > ui > charts > analytics > study/selfreport >
db > protocol > scales). Streamlit stays out of it, so the rules are tested without a browser.

- `study.assessments`: find-or-start an assessment at a planned timepoint, with the protocol's
  window check and the outside_window deviation; record a whole transcribed rating the same way.
- `study.self_report`: give self-report questionnaires to a participant (kiosk or link), each
  opened through `study.assessments`.
- `study.records`: the participant's clinical data as the pages read it, each read checked
  against the one read permission (`data.read` at the participant's site).
- `study.infusions`: the infusion day (an infusion under the protocol's dose range, rounding and
  weight checks; its end; vital signs with the protocol's threshold warnings; adverse events),
  the one entry point of the Infusion day page and the demo builder.
"""
