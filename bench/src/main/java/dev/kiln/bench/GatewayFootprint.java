package dev.kiln.bench;

import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a gateway holds for its model packages: every shipped package opened with ONNX Runtime sessions (the
 * embedded gateway, and the distributed one before it described them) against described only (the distributed
 * gateway), side by side in fresh JVMs taking turns. Prints the time to read every package and the resident
 * memory it added.
 *
 * <p>Usage: {@code bench/run footprint [rounds]} (default 3).
 */
public final class GatewayFootprint {
    private GatewayFootprint() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && (args[0].equals("load") || args[0].equals("describe"))) {
            measure(args[0].equals("describe"));
            return;
        }
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        System.out.println("gateway footprint: every shipped package, fresh JVM per reading, " + rounds + " rounds taking turns");
        for (int r = 0; r < rounds; r++) {
            for (String mode : new String[] {"load", "describe"}) {
                Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Dkiln.models.dir=" + System.getProperty("kiln.models.dir", "models"),
                        "-cp", System.getProperty("java.class.path"), GatewayFootprint.class.getName(), mode)
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
                System.out.print(new String(p.getInputStream().readAllBytes()));
                p.waitFor();
            }
        }
    }

    private static void measure(boolean describe) throws IOException {
        ModelCatalog shipped = ModelCatalog.shipped(Path.of(System.getProperty("kiln.models.dir", "models")), null,
                OnnxRuntimeOptions.cpu());
        ModelCatalog catalog = describe ? shipped.describingOnly() : shipped;
        System.gc();
        long before = residentKb();
        long t0 = System.nanoTime();
        for (String id : catalog.ids()) {
            catalog.get(id).layout();
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.gc();
        System.out.printf("%-9s %d packages in %5d ms, resident memory +%4d MB%n", describe ? "described" : "opened",
                catalog.ids().size(), ms, (residentKb() - before) / 1024);
        catalog.close();
    }

    private static long residentKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IOException("/proc/self/status has no VmRSS (this benchmark reads Linux's /proc)");
    }
}
