package dev.kiln.system;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One packaged Kiln service running as its own JVM ({@code java -jar target/quarkus-app/quarkus-run.jar}) on
 * loopback ports picked free at construction, its output in {@code target/system-test/<name>.log}. It can
 * be killed and started again on the same ports.
 */
final class ServiceProcess implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final String name;
    final int httpPort;
    final int grpcPort;
    private final Path jar;
    private final Map<String, String> config;
    private Process process;

    ServiceProcess(String name, String module, Map<String, String> config) {
        this.name = name;
        this.httpPort = freePort();
        this.grpcPort = freePort();
        this.jar = root().resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
        this.config = config;
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing; the system test runs after `package` of " + module);
        }
    }

    static Path root() {
        return Path.of(System.getProperty("kiln.root", "..")).toAbsolutePath().normalize();
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String grpcAddress() {
        return "127.0.0.1:" + grpcPort;
    }

    String http() {
        return "http://127.0.0.1:" + httpPort;
    }

    void start() throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dquarkus.http.port=" + httpPort, "-Dquarkus.http.host=127.0.0.1"));
        if (!name.equals("gateway")) {
            cmd.add("-Dquarkus.grpc.server.port=" + grpcPort);
            cmd.add("-Dquarkus.grpc.server.host=127.0.0.1");
        }
        config.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.add("-jar");
        cmd.add(jar.toString());
        Path logs = Files.createDirectories(root().resolve("system-test/target/system-test"));
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logs.resolve(name + ".log").toFile())).start();
    }

    /** Waits until {@code /q/health/ready} answers 200. */
    void awaitReady(Duration within) throws InterruptedException {
        Instant end = Instant.now().plus(within);
        while (Instant.now().isBefore(end)) {
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with " + process.exitValue() + "; see its log in "
                        + "system-test/target/system-test/" + name + ".log");
            }
            try {
                if (get("/q/health/ready").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException(name + " was not ready within " + within);
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(http() + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** A gauge's value from {@code /q/metrics}, e.g. {@code kiln_stage_queue_depth{stage="denoiser"}}. */
    double metric(String series) throws IOException, InterruptedException {
        for (String line : get("/q/metrics").body().split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new IllegalStateException(name + " exports no " + series);
    }

    /** Kills the JVM at once, as a crash or an OOM kill would. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }
}
