-- Agents' SIP desk phones (issue 4). Each agent may have one extension; the phone registers
-- with it as digest user name. Only the digest HA1 values are stored (MD5 and SHA-256 of
-- "extension:realm:password", RFC 7616), never the password, and the realm they were computed
-- for: changing [sip] registrar_realm makes them unusable until the password is set again.
CREATE TABLE agent_extensions (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id),
    extension   TEXT NOT NULL UNIQUE CHECK (length(extension) BETWEEN 2 AND 6
                                            AND extension NOT GLOB '*[^0-9]*'),
    realm       TEXT NOT NULL,
    ha1_md5     TEXT NOT NULL CHECK (length(ha1_md5) = 32),
    ha1_sha256  TEXT NOT NULL CHECK (length(ha1_sha256) = 64),
    updated_at  INTEGER NOT NULL
);

-- Where each registered desk phone can be reached, so a restart keeps routing calls to it
-- until the registration runs out. The registrar in memory is the authority; this is its copy.
CREATE TABLE sip_registrations (
    extension     TEXT NOT NULL,
    contact       TEXT NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    source        TEXT NOT NULL,
    transport     TEXT NOT NULL CHECK (transport IN ('udp', 'tcp')),
    call_id       TEXT NOT NULL,
    cseq          INTEGER NOT NULL,
    user_agent    TEXT,
    registered_at INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (extension, contact)
);

-- Which device the agent took a call on: her browser line or her desk phone.
ALTER TABLE calls ADD COLUMN agent_device TEXT CHECK (agent_device IN ('browser', 'desk_phone'));
