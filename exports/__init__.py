"""Scalebook's data in and out: CSV for statisticians, CDISC SDTM with Define-XML for
regulators, HL7 FHIR R4 for hospitals, REDCap for partner sites; instruments from REDCap and
FHIR and transcribed paper ratings in. Pure Python: reads and writes through db/ functions,
never imports Streamlit. Command line: `python -m exports --help`."""
