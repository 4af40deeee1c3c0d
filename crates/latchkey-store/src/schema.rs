//! The one schema both backends run (SQLite and PostgreSQL pass one storage suite). Only
//! portable SQL: TEXT and BIGINT
//! columns, `$n` parameters; objects whose fields are not queried are JSON documents in
//! `doc`. Migrations are append-only; each runs once, in order, in its own transaction.

pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE realms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE realm_keys (
    kid TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    alg TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX realm_keys_realm ON realm_keys (realm_id);
CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    secret_sealed TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (realm_id, client_id)
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    username TEXT NOT NULL,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    doc TEXT NOT NULL,
    password_hash TEXT,
    service_account_client TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (realm_id, username)
);
CREATE INDEX users_email ON users (realm_id, email);
CREATE INDEX users_service_account ON users (service_account_client);
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    client TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (realm_id, client, name)
);
CREATE TABLE user_roles (
    user_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    realm_id TEXT NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);
CREATE TABLE client_scopes (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (realm_id, name)
);
CREATE TABLE realm_default_scopes (
    realm_id TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    is_default BIGINT NOT NULL,
    PRIMARY KEY (realm_id, scope_id)
);
CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    client_uuid TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    session_id TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_uuid);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
"#,
    ),
    (
        2,
        r#"
ALTER TABLE clients ADD COLUMN rat_hash TEXT;
CREATE TABLE initial_access_tokens (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expiration BIGINT NOT NULL,
    count BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    web_origins TEXT NOT NULL
);
CREATE INDEX initial_access_tokens_realm ON initial_access_tokens (realm_id);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    time BIGINT NOT NULL,
    type TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    ip_address TEXT,
    error TEXT,
    details TEXT NOT NULL
);
CREATE INDEX events_realm_time ON events (realm_id, time);
"#,
    ),
    (
        3,
        r#"
CREATE TABLE components (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    provider_type TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    sub_type TEXT,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX components_realm ON components (realm_id);
"#,
    ),
    (
        4,
        r#"
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
CREATE TABLE used_assertions (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
"#,
    ),
    (
        5,
        r#"
CREATE TABLE transient (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    realm_id TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX transient_expiry ON transient (expires_at);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
"#,
    ),
    (
        6,
        r#"
CREATE TABLE admin_events (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    time BIGINT NOT NULL,
    operation_type TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_path TEXT NOT NULL,
    auth_realm_id TEXT NOT NULL,
    auth_client_id TEXT NOT NULL,
    auth_user_id TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    representation TEXT
);
CREATE INDEX admin_events_realm_time ON admin_events (realm_id, time);
"#,
    ),
    (
        7,
        r#"
CREATE TABLE resource_servers (
    id TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    UNIQUE (realm_id, uri)
);
ALTER TABLE refresh_tokens ADD COLUMN resources TEXT;
"#,
    ),
    (
        8,
        // How each client was registered (`RegistrationKind`), kept beside its document so
        // a list filters and the metrics count by it in SQL. Existing clients are read from
        // their documents (compact JSON, so each attribute is this exact text).
        r#"
ALTER TABLE clients ADD COLUMN registration_kind TEXT NOT NULL DEFAULT 'admin';
UPDATE clients SET registration_kind = 'anonymous' WHERE doc LIKE '%"registration.auth":"anonymous"%';
UPDATE clients SET registration_kind = 'cimd' WHERE doc LIKE '%"registration.auth":"cimd"%';
UPDATE clients SET registration_kind = 'authenticated' WHERE doc LIKE '%"registration.auth":"authenticated"%';
UPDATE clients SET registration_kind = 'initial_access_token' WHERE registration_kind = 'authenticated' AND doc LIKE '%"registration.method":"initial_access_token"%';
UPDATE clients SET registration_kind = 'bearer' WHERE registration_kind = 'authenticated' AND doc LIKE '%"registration.method":"bearer_token"%';
CREATE INDEX clients_realm_kind ON clients (realm_id, registration_kind);
"#,
    ),
    (
        9,
        // The secret a rotation replaced (client-secret-expiration), sealed like the
        // current one, and when it stops working.
        r#"
ALTER TABLE clients ADD COLUMN previous_secret_sealed TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at BIGINT;
"#,
    ),
    (
        10,
        // The last day each client was used (days since the Unix epoch), written at most
        // once a day per client and node (`Store::touch_client`).
        r#"
ALTER TABLE clients ADD COLUMN last_used BIGINT;
"#,
    ),
    (
        11,
        // Every realm key becomes a Keycloak key provider component (`rsa-generated`,
        // `ecdsa-generated`) whose id is the key's kid, with Keycloak's defaults for the
        // generated keys of a new realm: priority 100, active, enabled.
        r#"
INSERT INTO components (id, realm_id, parent_id, provider_type, provider_id, sub_type, name, config, created_at)
SELECT kid, realm_id, realm_id, 'org.keycloak.keys.KeyProvider',
       CASE alg WHEN 'RS256' THEN 'rsa-generated' ELSE 'ecdsa-generated' END, NULL,
       CASE alg WHEN 'RS256' THEN 'rsa-generated' ELSE 'ecdsa-generated' END,
       CASE alg WHEN 'RS256'
           THEN '{"active":["true"],"algorithm":["RS256"],"enabled":["true"],"keySize":["2048"],"priority":["100"]}'
           ELSE '{"active":["true"],"ecdsaEllipticCurveKey":["P-256"],"enabled":["true"],"priority":["100"]}'
       END,
       created_at
FROM realm_keys;
"#,
    ),
];
