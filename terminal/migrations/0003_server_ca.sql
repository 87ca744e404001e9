-- The CA certificate(s) pinned at enrolment (`enroll --ca-cert`), PEM as
-- given: the only roots the terminal trusts for its server. NULL = the
-- webpki roots.
ALTER TABLE enrolment ADD COLUMN server_ca_pem BLOB CHECK (length(server_ca_pem) <= 65536);
