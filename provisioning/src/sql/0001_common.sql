CREATE TABLE prov_lines (
    id TEXT PRIMARY KEY,
    suf TEXT NOT NULL,
    address TEXT,
    state TEXT NOT NULL,
    ipv4_kind TEXT NOT NULL,
    profile TEXT NOT NULL,
    outlet TEXT,
    pbo TEXT,
    pbo_position TEXT,
    splitter_position TEXT,
    pm TEXT,
    pon_port TEXT,
    olt TEXT,
    frame BIGINT,
    slot BIGINT,
    port BIGINT,
    ont_id BIGINT,
    budget_class TEXT,
    budget_total_mdb BIGINT,
    budget_margin_mdb BIGINT,
    budget_pass SMALLINT,
    budget_override TEXT,
    ont_serial TEXT,
    rx_cdbm BIGINT,
    install_notes TEXT,
    ipv4 TEXT,
    ipv4_pool TEXT,
    prefix TEXT,
    prefix_pool TEXT,
    wan TEXT,
    wan_pool TEXT,
    svlan BIGINT,
    cvlan BIGINT,
    circuit_id TEXT,
    suspend_reason TEXT,
    last_error TEXT,
    nas_status TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    lock_n BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX prov_lines_state ON prov_lines (state, updated_at);
CREATE INDEX prov_lines_suf ON prov_lines (suf);
CREATE INDEX prov_lines_pon_port ON prov_lines (pon_port);
CREATE INDEX prov_lines_circuit ON prov_lines (circuit_id);
CREATE TABLE prov_resources (
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    value BIGINT NOT NULL,
    line_id TEXT NOT NULL,
    PRIMARY KEY (kind, scope, value)
);
CREATE INDEX prov_resources_line ON prov_resources (line_id);
CREATE TABLE prov_svlans (
    pon_port TEXT PRIMARY KEY,
    olt TEXT NOT NULL,
    svlan BIGINT NOT NULL,
    UNIQUE (olt, svlan)
);
CREATE TABLE prov_pools (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    network TEXT NOT NULL,
    assign_len BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE prov_pool_epoch (n BIGINT NOT NULL);
INSERT INTO prov_pool_epoch (n) VALUES (0);
CREATE TABLE prov_events (
    seq {{id}},
    line_id TEXT NOT NULL,
    at TEXT NOT NULL,
    step TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    detail TEXT,
    actor TEXT NOT NULL
);
CREATE INDEX prov_events_line ON prov_events (line_id);
CREATE TABLE prov_assignments (
    id {{id}},
    line_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    pool TEXT NOT NULL,
    value TEXT NOT NULL,
    family BIGINT NOT NULL,
    first_hex TEXT NOT NULL,
    last_hex TEXT NOT NULL,
    from_at TEXT NOT NULL
);
CREATE INDEX prov_assignments_range ON prov_assignments (family, first_hex);
CREATE INDEX prov_assignments_line ON prov_assignments (line_id);
CREATE TABLE prov_releases (
    assignment_id BIGINT PRIMARY KEY,
    until_at TEXT NOT NULL
);
CREATE TABLE radcheck (
    id {{id}},
    username TEXT NOT NULL DEFAULT '',
    attribute TEXT NOT NULL DEFAULT '',
    op VARCHAR(2) NOT NULL DEFAULT '==',
    value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX radcheck_username ON radcheck (username);
CREATE TABLE radreply (
    id {{id}},
    username TEXT NOT NULL DEFAULT '',
    attribute TEXT NOT NULL DEFAULT '',
    op VARCHAR(2) NOT NULL DEFAULT '=',
    value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX radreply_username ON radreply (username);
CREATE TABLE radusergroup (
    id {{id}},
    username TEXT NOT NULL DEFAULT '',
    groupname TEXT NOT NULL DEFAULT '',
    priority BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX radusergroup_username ON radusergroup (username);
CREATE TABLE radgroupcheck (
    id {{id}},
    groupname TEXT NOT NULL DEFAULT '',
    attribute TEXT NOT NULL DEFAULT '',
    op VARCHAR(2) NOT NULL DEFAULT '==',
    value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX radgroupcheck_groupname ON radgroupcheck (groupname);
CREATE TABLE radgroupreply (
    id {{id}},
    groupname TEXT NOT NULL DEFAULT '',
    attribute TEXT NOT NULL DEFAULT '',
    op VARCHAR(2) NOT NULL DEFAULT '=',
    value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX radgroupreply_groupname ON radgroupreply (groupname);
INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES ('regie-walled-garden', 'Filter-Id', ':=', 'walled-garden');
INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES ('regie-throttled', 'Filter-Id', ':=', 'throttled');
