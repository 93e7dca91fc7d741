"""Privacy: field encryption, consent, pseudonymous visitor ids, export and deletion, the audit log."""
