"""Read-only HL7 FHIR R4 views of the relay (closed-loop referral), under /api/v1/fhir/.

mapping.py turns what the workflow's read services return into FHIR resources (plain dicts);
views.py serves them with the same keys, scopes and audit as the rest of the API. docs/fhir.md
has the mapping table.
"""
