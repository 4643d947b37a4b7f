"""Real network servers (Dovecot IMAP, ...) started by the test-suite on 127.0.0.1."""
