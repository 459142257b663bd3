package dev.kiln.gateway.jobs;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A schema of its own in the local PostgreSQL (database {@code test}, trust auth), migrated with the
 * gateway's Flyway scripts, so parallel test runs never see each other's jobs. Dropped on close.
 */
public final class TestDatabase implements AutoCloseable {
    public static final String URL = "jdbc:postgresql://127.0.0.1:5432/test";
    public static final String USER = "postgres";

    private final String schema = "kiln_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    private final PGSimpleDataSource dataSource = new PGSimpleDataSource();

    public TestDatabase() {
        dataSource.setUrl(url());
        dataSource.setUser(USER);
        Flyway.configure().dataSource(dataSource).schemas(schema).locations("classpath:db/migration").load().migrate();
    }

    public String schema() {
        return schema;
    }

    /** The JDBC URL with this schema as the search path. */
    public String url() {
        return URL + "?currentSchema=" + schema;
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** Runs one statement, for a test to put rows in the state a crashed gateway leaves them in. */
    public void execute(String sql) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
}
