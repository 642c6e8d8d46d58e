"""Continuous fine-tuning: served traces → scores → a curated dataset version → a retrained model → a
gate on a fixed held-out set → promote (or keep), versioned and reversible.

    traces.py    the server's trace store read back, filtered, exported; scores appended beside it
    scoring.py   verifier, LLM judge, users' feedback
    curate.py    threshold, teacher rewrites, de-duplication, the held-out leak check, the new version
    gate.py      the paired test and the registry (versions, history, promote, rollback)
    round.py     one round as a job: `thinktune flywheel CONFIG`
"""
