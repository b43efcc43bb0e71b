"""The reference mail server: SMTP and POP3 over one Maildir store (opt-in subpackage).

Importing ``planner`` does not import this package; the server, the load harness and the
planning model meet only through plain data (a benchmark result's capacity figure).
"""
