import Foundation

/// The schema, as numbered steps written once for both engines. `{{ID}}`, `{{BLOB}}` and `{{BOOL}}`
/// are filled in per ``SQLDialect``; a statement only one engine needs (SQLite cannot alter a
/// column, PostgreSQL can) says so. Steps are only ever appended: a database written by an older
/// version migrates forward.
enum Migrations {
    struct Step {
        let version: Int
        let name: String
        let statements: [Statement]
    }

    struct Statement: ExpressibleByStringLiteral {
        let sql: String
        /// nil: both engines.
        let dialect: SQLDialect?

        init(stringLiteral sql: String) {
            self.sql = sql
            self.dialect = nil
        }

        init(_ dialect: SQLDialect, _ sql: String) {
            self.sql = sql
            self.dialect = dialect
        }

        static func sqlite(_ sql: String) -> Statement { Statement(.sqlite, sql) }
        static func postgres(_ sql: String) -> Statement { Statement(.postgres, sql) }
    }

    static let steps: [Step] = [
        Step(version: 1, name: "tenants, api keys, webhooks, orders, outbox", statements: [
            """
            CREATE TABLE tenants (
                id TEXT PRIMARY KEY,
                subdomain TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE api_keys (
                id {{ID}},
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                secret_hash TEXT NOT NULL,
                scopes TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                revoked_at BIGINT
            )
            """,
            "CREATE INDEX api_keys_tenant ON api_keys (tenant_id)",
            """
            CREATE TABLE webhooks (
                id {{ID}},
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                outlet_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                callback_url TEXT NOT NULL,
                events TEXT NOT NULL,
                secret_sealed TEXT NOT NULL,
                is_active BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deleted_at BIGINT
            )
            """,
            // One live webhook per outlet and provider; deleted ones stay for the delivery log.
            "CREATE UNIQUE INDEX webhooks_live_outlet_provider ON webhooks (tenant_id, outlet_id, provider) WHERE deleted_at IS NULL",
            """
            CREATE TABLE orders (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                outlet_id TEXT NOT NULL,
                event TEXT NOT NULL,
                order_uuid TEXT NOT NULL,
                order_ref_no TEXT NOT NULL,
                built_in_transformer TEXT,
                currency TEXT NOT NULL,
                total_pay_minor BIGINT NOT NULL,
                payload {{BLOB}} NOT NULL,
                payload_sha256 TEXT NOT NULL,
                dispatch_status TEXT NOT NULL,
                dispatch_reason TEXT,
                first_response TEXT,
                external_order_id TEXT,
                received_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                UNIQUE (tenant_id, order_uuid, event)
            )
            """,
            "CREATE INDEX orders_tenant_outlet ON orders (tenant_id, outlet_id, received_at)",
            """
            CREATE TABLE deliveries (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                order_id TEXT NOT NULL REFERENCES orders(id),
                webhook_id BIGINT REFERENCES webhooks(id),
                connector TEXT NOT NULL,
                event TEXT NOT NULL,
                status TEXT NOT NULL,
                attempt_count BIGINT NOT NULL,
                next_attempt_at BIGINT,
                lease_owner TEXT,
                lease_expires_at BIGINT,
                last_status_code BIGINT,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                delivered_at BIGINT
            )
            """,
            "CREATE INDEX deliveries_order ON deliveries (order_id)",
            "CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)",
            """
            CREATE TABLE delivery_attempts (
                id {{ID}},
                delivery_id TEXT NOT NULL REFERENCES deliveries(id),
                attempt_number BIGINT NOT NULL,
                started_at BIGINT NOT NULL,
                duration_ms BIGINT NOT NULL,
                status_code BIGINT,
                error_class TEXT,
                error TEXT,
                response_excerpt TEXT,
                signed_with TEXT,
                UNIQUE (delivery_id, attempt_number)
            )
            """,
        ]),
        Step(version: 2, name: "webhook secret rotation, ping and health", statements: [
            "ALTER TABLE webhooks ADD COLUMN previous_secret_sealed TEXT",
            "ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at BIGINT",
            "ALTER TABLE webhooks ADD COLUMN last_ping_status BIGINT",
            "ALTER TABLE webhooks ADD COLUMN last_ping_error TEXT",
            "ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT",
            "CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at)",
            "CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at, id)",
        ]),
        Step(version: 3, name: "webhook circuit breaker", statements: [
            "ALTER TABLE webhooks ADD COLUMN consecutive_failures BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE webhooks ADD COLUMN failing_since BIGINT",
            "ALTER TABLE webhooks ADD COLUMN circuit_open_until BIGINT",
        ]),
        Step(version: 4, name: "provider connections, outlet providers, connector progress", statements: [
            """
            CREATE TABLE provider_connections (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                slug TEXT NOT NULL,
                status TEXT NOT NULL,
                api_key_sealed TEXT NOT NULL,
                api_secret_sealed TEXT NOT NULL,
                webhook_url TEXT NOT NULL,
                base_url TEXT NOT NULL,
                config TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, slug)
            )
            """,
            """
            CREATE TABLE outlet_providers (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                outlet_id TEXT NOT NULL,
                provider_slug TEXT NOT NULL,
                external_id TEXT NOT NULL,
                settings TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, outlet_id)
            )
            """,
            "CREATE INDEX outlet_providers_slug ON outlet_providers (tenant_id, provider_slug)",
            "ALTER TABLE deliveries ADD COLUMN progress TEXT",
        ]),
        Step(version: 5, name: "event outbox, attempts counted when started, native types on PostgreSQL", statements: [
            """
            CREATE TABLE events (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                type TEXT NOT NULL,
                subject_type TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                outlet_id TEXT,
                payload {{BLOB}} NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            // Every order with deliveries carried one event: its own bytes, under its own id.
            """
            INSERT INTO events (id, tenant_id, type, subject_type, subject_id, outlet_id, payload, created_at)
            SELECT id, tenant_id, event, 'order', id, outlet_id, payload, received_at FROM orders
            WHERE id IN (SELECT order_id FROM deliveries)
            """,
            // SQLite cannot drop NOT NULL from order_id: the table is rebuilt (``SQLEngine/migrate(_:)``
            // runs this with foreign keys off and checks them before commit).
            .sqlite("""
            CREATE TABLE deliveries_v5 (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                event_id TEXT NOT NULL REFERENCES events(id),
                subject_type TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                webhook_id BIGINT REFERENCES webhooks(id),
                connector TEXT NOT NULL,
                event TEXT NOT NULL,
                status TEXT NOT NULL,
                attempt_count BIGINT NOT NULL,
                attempts_started BIGINT NOT NULL,
                next_attempt_at BIGINT,
                lease_owner TEXT,
                lease_expires_at BIGINT,
                last_status_code BIGINT,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                delivered_at BIGINT,
                progress TEXT
            )
            """),
            .sqlite("""
            INSERT INTO deliveries_v5 (id, tenant_id, event_id, subject_type, subject_id, webhook_id, connector, event, status, attempt_count,
                                       attempts_started, next_attempt_at, lease_owner, lease_expires_at, last_status_code, last_error,
                                       created_at, updated_at, delivered_at, progress)
            SELECT id, tenant_id, order_id, 'order', order_id, webhook_id, connector, event, status, attempt_count,
                   CASE WHEN status = 'delivering' THEN attempt_count + 1 ELSE attempt_count END, next_attempt_at, lease_owner,
                   lease_expires_at, last_status_code, last_error, created_at, updated_at, delivered_at, progress
            FROM deliveries
            """),
            .sqlite("DROP TABLE deliveries"),
            .sqlite("ALTER TABLE deliveries_v5 RENAME TO deliveries"),
            .sqlite("CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)"),
            .sqlite("CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at)"),
            .sqlite("CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at, id)"),
            .postgres("ALTER TABLE deliveries ADD COLUMN event_id TEXT REFERENCES events(id)"),
            .postgres("ALTER TABLE deliveries ADD COLUMN subject_type TEXT NOT NULL DEFAULT 'order'"),
            .postgres("ALTER TABLE deliveries ADD COLUMN subject_id TEXT"),
            .postgres("ALTER TABLE deliveries ADD COLUMN attempts_started BIGINT NOT NULL DEFAULT 0"),
            .postgres("""
            UPDATE deliveries SET event_id = order_id, subject_id = order_id,
                attempts_started = CASE WHEN status = 'delivering' THEN attempt_count + 1 ELSE attempt_count END
            """),
            .postgres("ALTER TABLE deliveries ALTER COLUMN event_id SET NOT NULL"),
            .postgres("ALTER TABLE deliveries ALTER COLUMN subject_id SET NOT NULL"),
            .postgres("ALTER TABLE deliveries ALTER COLUMN subject_type DROP DEFAULT"),
            .postgres("ALTER TABLE deliveries ALTER COLUMN attempts_started DROP DEFAULT"),
            .postgres("DROP INDEX deliveries_order"),
            .postgres("ALTER TABLE deliveries DROP COLUMN order_id"),
            "CREATE INDEX deliveries_event ON deliveries (event_id)",
            "CREATE INDEX deliveries_subject ON deliveries (tenant_id, subject_type, subject_id)",
            .postgres("ALTER TABLE webhooks ALTER COLUMN is_active TYPE BOOLEAN USING is_active <> 0"),
            .postgres("ALTER TABLE webhooks ALTER COLUMN events TYPE TEXT[] USING string_to_array(events, ',')"),
            .postgres("ALTER TABLE api_keys ALTER COLUMN scopes TYPE TEXT[] USING string_to_array(scopes, ',')"),
        ]),
        Step(version: 6, name: "provider OAuth tokens with a refresh lease", statements: [
            """
            CREATE TABLE provider_tokens (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                slug TEXT NOT NULL,
                access_token_sealed TEXT NOT NULL,
                refresh_token_sealed TEXT,
                access_expires_at BIGINT,
                version BIGINT NOT NULL,
                refresh_owner TEXT,
                refresh_lease_until BIGINT,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, slug)
            )
            """,
        ]),
        Step(version: 7, name: "order status with history, inbound POS webhooks, connection tokens", statements: [
            "ALTER TABLE orders ADD COLUMN status TEXT NOT NULL DEFAULT 'PAID'",
            "ALTER TABLE orders ADD COLUMN status_version BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE orders ADD COLUMN status_changed_at BIGINT",
            // Orders from before this step did not keep their delivery method: any path is allowed for them.
            "ALTER TABLE orders ADD COLUMN fulfilment TEXT NOT NULL DEFAULT 'unknown'",
            // Partial: an order has no POS id when it is inserted, so intake pays nothing for this index.
            "CREATE INDEX orders_external ON orders (tenant_id, external_order_id) WHERE external_order_id IS NOT NULL",
            """
            CREATE TABLE order_status_history (
                id {{ID}},
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                order_id TEXT NOT NULL REFERENCES orders(id),
                status TEXT NOT NULL,
                previous TEXT,
                source TEXT NOT NULL,
                reason TEXT,
                pos_order_id TEXT,
                occurred_at BIGINT,
                recorded_at BIGINT NOT NULL,
                stale {{BOOL}} NOT NULL
            )
            """,
            "CREATE INDEX order_status_history_order ON order_status_history (order_id, id)",
            "ALTER TABLE provider_connections ADD COLUMN connection_token TEXT",
            "ALTER TABLE provider_connections ADD COLUMN webhook_secret_sealed TEXT",
            // Existing connections get their token here (192 random bits, hex); new ones get it from the service.
            .sqlite("UPDATE provider_connections SET connection_token = lower(hex(randomblob(24)))"),
            .postgres("""
            UPDATE provider_connections SET connection_token = substr(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 1, 48)
            """),
            "CREATE UNIQUE INDEX provider_connections_token ON provider_connections (connection_token)",
            """
            CREATE TABLE inbound_requests (
                id {{ID}},
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                provider TEXT NOT NULL,
                headers TEXT NOT NULL,
                body TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT,
                status_code INTEGER NOT NULL,
                order_id TEXT,
                received_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX inbound_requests_tenant ON inbound_requests (tenant_id, received_at)",
        ]),
        Step(version: 8, name: "outlets and products", statements: [
            // address, contact, opening_hours and capabilities are JSON text as the caller sent it (ADR 0004:
            // nothing queries inside them, and numbers keep their digits).
            """
            CREATE TABLE outlets (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                provider TEXT NOT NULL,
                external_id TEXT,
                name TEXT NOT NULL,
                internal_name TEXT,
                slug TEXT NOT NULL,
                ref_code TEXT,
                image_url TEXT,
                address TEXT,
                contact TEXT,
                status TEXT NOT NULL,
                is_busy {{BOOL}} NOT NULL,
                busy_until BIGINT,
                visible {{BOOL}} NOT NULL,
                timezone TEXT NOT NULL,
                currency TEXT,
                opening_hours TEXT,
                capabilities TEXT,
                location_id TEXT,
                channel_link_id TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            // An outlet created without a POS id can be linked later (map mode), so the rule holds only where there is one.
            "CREATE UNIQUE INDEX outlets_external ON outlets (tenant_id, provider, external_id) WHERE external_id IS NOT NULL",
            "CREATE INDEX outlets_tenant_created ON outlets (tenant_id, created_at, id)",
            // Map mode looks for a same-named outlet not linked yet.
            "CREATE INDEX outlets_unlinked_name ON outlets (tenant_id, name) WHERE external_id IS NULL",
            """
            CREATE TABLE products (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                provider TEXT NOT NULL,
                item_code TEXT NOT NULL,
                document TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deleted_at BIGINT,
                PRIMARY KEY (tenant_id, provider, item_code)
            )
            """,
            "CREATE INDEX products_updated ON products (tenant_id, provider, updated_at, item_code)",
        ]),
        Step(version: 9, name: "outlet menus, item snoozes, menu versions", statements: [
            """
            CREATE TABLE outlet_menus (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                outlet_id TEXT NOT NULL,
                menu_id TEXT NOT NULL,
                name TEXT NOT NULL,
                menu_type INTEGER NOT NULL,
                document TEXT NOT NULL,
                content_sha256 TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deleted_at BIGINT,
                PRIMARY KEY (tenant_id, outlet_id, menu_id)
            )
            """,
            """
            CREATE TABLE item_snoozes (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                outlet_id TEXT NOT NULL,
                item_code TEXT NOT NULL,
                snooze_end BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, outlet_id, item_code)
            )
            """,
            """
            CREATE TABLE outlet_menu_versions (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                outlet_id TEXT NOT NULL,
                version BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, outlet_id)
            )
            """,
        ]),
        Step(version: 10, name: "outlet prices, menu drafts, menu publications", statements: [
            // Products sync keeps each product's per-outlet prices here too, so the menu read takes an
            // outlet's prices in one indexed query instead of reading every product document.
            """
            CREATE TABLE product_outlet_prices (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                provider TEXT NOT NULL,
                item_code TEXT NOT NULL,
                outlet_id TEXT NOT NULL,
                price TEXT NOT NULL,
                PRIMARY KEY (tenant_id, provider, item_code, outlet_id)
            )
            """,
            "CREATE INDEX product_outlet_prices_outlet ON product_outlet_prices (tenant_id, outlet_id)",
            // Products synced before this step: their documents hold the prices (numbers of at most
            // four fraction digits, which both engines print back exactly).
            .sqlite("""
                INSERT INTO product_outlet_prices (tenant_id, provider, item_code, outlet_id, price)
                SELECT p.tenant_id, p.provider, p.item_code, json_extract(e.value, '$.outletId'), CAST(json_extract(e.value, '$.price') AS TEXT)
                FROM products p, json_each(p.document, '$.outletPrices') e WHERE p.deleted_at IS NULL
                """),
            .postgres("""
                INSERT INTO product_outlet_prices (tenant_id, provider, item_code, outlet_id, price)
                SELECT p.tenant_id, p.provider, p.item_code, e ->> 'outletId', e ->> 'price'
                FROM products p, jsonb_array_elements(p.document::jsonb -> 'outletPrices') e WHERE p.deleted_at IS NULL
                """),
            // A draft is one document (sections, items, hours, target outlets): the editor changes it
            // as a whole, and nothing queries inside it.
            """
            CREATE TABLE menu_drafts (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                name TEXT NOT NULL,
                document TEXT NOT NULL,
                version BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deleted_at BIGINT,
                PRIMARY KEY (tenant_id, id)
            )
            """,
            "CREATE INDEX menu_drafts_created ON menu_drafts (tenant_id, created_at, id)",
            """
            CREATE TABLE menu_publications (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                outlet_id TEXT NOT NULL,
                draft_ids TEXT NOT NULL,
                menu_ids TEXT NOT NULL,
                status TEXT NOT NULL,
                error TEXT,
                published_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, id, outlet_id)
            )
            """,
            "CREATE INDEX menu_publications_outlet ON menu_publications (tenant_id, outlet_id, published_at)",
        ]),
        Step(version: 11, name: "loyalty configuration, refCode records, call log", statements: [
            // base_url and timeout_ms NULL: the deployment's default (POS_LOYALTY_URL, POS_LOYALTY_TIMEOUT).
            """
            CREATE TABLE loyalty_configs (
                tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
                base_url TEXT,
                api_key_sealed TEXT NOT NULL,
                timeout_ms BIGINT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            // One row per (tenant, operation, refCode): what it moved, and once answered, the answer replayed.
            """
            CREATE TABLE loyalty_moves (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                operation TEXT NOT NULL,
                ref_code TEXT NOT NULL,
                customer_uuid TEXT NOT NULL,
                points BIGINT NOT NULL,
                state TEXT NOT NULL,
                response_status INTEGER,
                response_body TEXT,
                attempts BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, operation, ref_code)
            )
            """,
            """
            CREATE TABLE loyalty_calls (
                id {{ID}},
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                operation TEXT NOT NULL,
                customer_uuid TEXT,
                points BIGINT,
                ref_code TEXT,
                upstream_status INTEGER,
                latency_ms BIGINT NOT NULL,
                status INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX loyalty_calls_tenant ON loyalty_calls (tenant_id, at, id)",
            "CREATE INDEX loyalty_calls_customer ON loyalty_calls (tenant_id, customer_uuid, at, id)",
        ]),
        Step(version: 12, name: "inbound POS events applied once", statements: [
            // A POS that delivers at least once (Atlas) sends an event again; its identity is recorded when
            // the event was decided on, and a repeat changes nothing (ADR 0009).
            """
            CREATE TABLE inbound_events (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                provider TEXT NOT NULL,
                event_key TEXT NOT NULL,
                outcome TEXT NOT NULL,
                order_id TEXT,
                received_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, provider, event_key)
            )
            """,
        ]),
        // Step 13: OAuth authorization-code states (Lightspeed); step 14 belongs to work merged separately.
        Step(version: 13, name: "OAuth authorization states", statements: [
            """
            CREATE TABLE oauth_states (
                state_hash TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                slug TEXT NOT NULL,
                redirect_uri TEXT NOT NULL,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX oauth_states_expiry ON oauth_states (expires_at)",
        ]),
        Step(version: 14, name: "API key names, prefixes and last use; operator keys", statements: [
            // Keys issued before keep an empty name and prefix; they are shown as `posk_<id>_`.
            "ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE api_keys ADD COLUMN prefix TEXT NOT NULL DEFAULT ''",
            // Written at most once a minute per key (AuthService), never per request.
            "ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT",
            // The platform's operator keys (`posop_…`): no tenant, issued only by the CLI.
            """
            CREATE TABLE operator_keys (
                id {{ID}},
                name TEXT NOT NULL,
                prefix TEXT NOT NULL,
                secret_hash TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                revoked_at BIGINT,
                last_used_at BIGINT
            )
            """,
        ]),
        Step(version: 15, name: "console sessions, order lookups for the console", statements: [
            // Only the hash of a session id is kept; the holder is re-checked on every request, so
            // revoking the key ends its sessions.
            """
            CREATE TABLE console_sessions (
                id_hash TEXT PRIMARY KEY,
                holder_kind TEXT NOT NULL,
                holder_id BIGINT NOT NULL,
                acting_tenant_id TEXT REFERENCES tenants(id),
                created_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)",
            // When the order's dispatch reached its target: the overview's "time to the POS" without
            // a look into the deliveries of every order of the day.
            "ALTER TABLE orders ADD COLUMN dispatched_at BIGINT",
            // The console's order list, newest first and paged, and the overview's day of orders.
            // Not covering, and no index by status: every index on orders is paid by each dispatch
            // (a covering one by each completion too) — measured, they cost intake a fifth.
            "CREATE INDEX orders_tenant_received ON orders (tenant_id, received_at, id)",
            "CREATE INDEX orders_tenant_ref_no ON orders (tenant_id, order_ref_no)",
            // The outlet filter keeps list order in the index, so a rare outlet is a short walk.
            "DROP INDEX orders_tenant_outlet",
            "CREATE INDEX orders_tenant_outlet ON orders (tenant_id, outlet_id, received_at, id)",
            // Dead letters per tenant: only dead rows, so it is small and rarely written.
            "CREATE INDEX deliveries_dead ON deliveries (tenant_id, updated_at) WHERE status = 'dead'",
        ]),
        Step(version: 16, name: "tenant-wide webhooks", statements: [
            // A webhook without an outlet gets every subscribed event of its tenant (alerts to an ops relay).
            // SQLite cannot drop NOT NULL: the table is rebuilt, as deliveries were in step 5.
            .sqlite("""
            CREATE TABLE webhooks_v16 (
                id {{ID}},
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                outlet_id TEXT,
                provider TEXT NOT NULL,
                callback_url TEXT NOT NULL,
                events TEXT NOT NULL,
                secret_sealed TEXT NOT NULL,
                is_active BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deleted_at BIGINT,
                previous_secret_sealed TEXT,
                previous_secret_expires_at BIGINT,
                last_ping_status BIGINT,
                last_ping_error TEXT,
                disabled_reason TEXT,
                consecutive_failures BIGINT NOT NULL DEFAULT 0,
                failing_since BIGINT,
                circuit_open_until BIGINT
            )
            """),
            .sqlite("""
            INSERT INTO webhooks_v16 (id, tenant_id, outlet_id, provider, callback_url, events, secret_sealed, is_active, created_at, updated_at,
                                      deleted_at, previous_secret_sealed, previous_secret_expires_at, last_ping_status, last_ping_error,
                                      disabled_reason, consecutive_failures, failing_since, circuit_open_until)
            SELECT id, tenant_id, outlet_id, provider, callback_url, events, secret_sealed, is_active, created_at, updated_at,
                   deleted_at, previous_secret_sealed, previous_secret_expires_at, last_ping_status, last_ping_error,
                   disabled_reason, consecutive_failures, failing_since, circuit_open_until
            FROM webhooks
            """),
            .sqlite("DROP TABLE webhooks"),
            .sqlite("ALTER TABLE webhooks_v16 RENAME TO webhooks"),
            .postgres("DROP INDEX webhooks_live_outlet_provider"),
            .postgres("ALTER TABLE webhooks ALTER COLUMN outlet_id DROP NOT NULL"),
            // One live webhook per outlet (or tenant-wide, keyed '') and provider; fan-out reads by the
            // same key: the outlet's webhooks and the tenant-wide ones.
            """
            CREATE UNIQUE INDEX webhooks_live_outlet_provider ON webhooks (tenant_id, COALESCE(outlet_id, ''), provider)
            WHERE deleted_at IS NULL
            """,
        ]),
        Step(version: 17, name: "deliveries of one subject and target in emission order", statements: [
            // Whether a delivery waits for the earlier ones of its subject and target. Jobs that only
            // read from a POS (status polls, menu imports) do not: a poll waits hours between looks
            // and would hold back the cancellation behind it.
            "ALTER TABLE deliveries ADD COLUMN ordered BOOLEAN NOT NULL DEFAULT TRUE",
            "UPDATE deliveries SET ordered = FALSE WHERE event IN ('pos.poll_status', 'pos.import_menu')",
            // Emission order: SQLite's rowid already is one (rows are only ever appended); PostgreSQL
            // numbers them (``SQLDialect/emissionOrder(_:)``).
            .postgres("ALTER TABLE deliveries ADD COLUMN seq BIGSERIAL"),
        ]),
        Step(version: 18, name: "the trace context of an outbox event", statements: [
            // The emitting request's W3C `traceparent`: the worker's retries continue its trace.
            "ALTER TABLE events ADD COLUMN traceparent TEXT",
        ]),
    ]

    /// An arbitrary constant naming the migration lock.
    static let advisoryLockKey: Int64 = 0x706F_735F_6D69_67

    static func render(_ statement: String, for dialect: SQLDialect) -> String {
        switch dialect {
        case .sqlite:
            statement
                .replacingOccurrences(of: "{{ID}}", with: "INTEGER PRIMARY KEY AUTOINCREMENT")
                .replacingOccurrences(of: "{{BLOB}}", with: "BLOB")
                .replacingOccurrences(of: "{{BOOL}}", with: "INTEGER")
        case .postgres:
            statement
                .replacingOccurrences(of: "{{ID}}", with: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
                .replacingOccurrences(of: "{{BLOB}}", with: "BYTEA")
                .replacingOccurrences(of: "{{BOOL}}", with: "BOOLEAN")
        }
    }

    /// Applies every step not yet recorded, up to `version` when given; returns the versions applied.
    /// Runs inside one write transaction, so several processes starting at once are serialised.
    static func run(_ db: any SQLSession, through version: Int?, now: Int64) throws -> [Int] {
        if let lock = db.dialect.migrationLock { try db.execute(lock) }
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        var applied = Set(try db.query("SELECT version FROM schema_migrations").map { try $0.int("version") })
        if applied.isEmpty, db.dialect == .sqlite {
            applied = try adoptingGRDBMigrations(db, now: now)
        }
        var newlyApplied: [Int] = []
        for step in steps where !applied.contains(step.version) && step.version <= (version ?? .max) {
            for statement in step.statements where statement.dialect == nil || statement.dialect == db.dialect {
                try db.execute(render(statement.sql, for: db.dialect))
            }
            try db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [step.version, step.name, now])
            newlyApplied.append(step.version)
        }
        return newlyApplied
    }

    /// SQLite files written before the stores had one implementation recorded their steps in
    /// GRDB's `grdb_migrations` (`v1 tenants, …`); take those over once.
    private static func adoptingGRDBMigrations(_ db: any SQLSession, now: Int64) throws -> Set<Int> {
        guard try db.queryOne("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'grdb_migrations'") != nil else { return [] }
        var adopted: Set<Int> = []
        for row in try db.query("SELECT identifier FROM grdb_migrations") {
            let identifier = try row.string("identifier")
            guard identifier.hasPrefix("v"), let version = Int(identifier.dropFirst().prefix { $0.isNumber }),
                  let step = steps.first(where: { $0.version == version })
            else { continue }
            try db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [version, step.name, now])
            adopted.insert(version)
        }
        return adopted
    }
}
