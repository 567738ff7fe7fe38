import Foundation
import SQLKit

/// The schema, as numbered steps written once for both engines. `{{ID}}` and `{{BLOB}}` are the
/// only engine-specific parts and are filled in per ``SQLFlavor``.
enum Migrations {
    struct Step {
        let version: Int
        let name: String
        let statements: [String]
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
        Step(version: 5, name: "provider OAuth tokens with a refresh lease", statements: [
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
    ]

    /// An arbitrary constant naming the migration lock.
    static let advisoryLockKey: Int64 = 0x706F_735F_6D69_67

    static func render(_ statement: String, for flavor: SQLFlavor) -> String {
        switch flavor {
        case .sqlite:
            statement
                .replacingOccurrences(of: "{{ID}}", with: "INTEGER PRIMARY KEY AUTOINCREMENT")
                .replacingOccurrences(of: "{{BLOB}}", with: "BLOB")
        case .postgres:
            statement
                .replacingOccurrences(of: "{{ID}}", with: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
                .replacingOccurrences(of: "{{BLOB}}", with: "BYTEA")
        }
    }

    /// Applies every step not yet recorded; returns the versions applied. Safe to run from
    /// several processes at once: the write transaction serialises them.
    static func run(on engine: any SQLEngine, now: Int64) async throws -> [Int] {
        try await engine.withTransaction { db in
            if engine.flavor == .postgres {
                // Replicas starting together queue here instead of racing through the same steps.
                try await db.raw("SELECT pg_advisory_xact_lock(\(bind: advisoryLockKey))").run()
            }
            try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)").run()
            let rows = try await db.raw("SELECT version FROM schema_migrations").all()
            let applied = Set(try rows.map { try $0.decode(column: "version", as: Int.self) })
            var newlyApplied: [Int] = []
            for step in steps where !applied.contains(step.version) {
                for statement in step.statements {
                    try await db.raw(SQLQueryString(render(statement, for: engine.flavor))).run()
                }
                try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: step.version), \(bind: step.name), \(bind: now))").run()
                newlyApplied.append(step.version)
            }
            return newlyApplied
        }
    }
}
