package dev.kiln.pipeline.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.UNetRole;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.text.TextEncoder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * {@code kiln eval}: the quality table of a model package with an evaluator, on its fixed prompts and seeds.
 *
 * <p>For each split (held-in and held-out prompts separately) it scores real pictures (the ceiling), the
 * teacher with DDIM 50/20/10 and DPM-Solver++ 20, the one-step student with the VAE and with the
 * consistency decoder, and VAE and consistency-decoder reconstructions of the real pictures. Measures:
 * top-1 prompt retrieval among groups of 100 captions, emoji-FD (Fréchet distance of evaluator embeddings
 * against the real pictures of the same prompts), the style head's accuracy, and PSNR of reconstructions.
 */
public final class EmojiEvaluation {
    public static final int GROUP = 100;

    /**
     * One line of the table.
     *
     * @param retrieval top-1 retrieval among {@link #GROUP} captions
     * @param retrieval10 top-10 retrieval among the same captions
     * @param fd        emoji-FD against the real pictures of the same prompts (null for the real pictures)
     * @param psnr      mean PSNR in dB against the real pictures (reconstructions only, else null)
     * @param seconds   wall time of producing and judging the pictures
     */
    public record Row(String name, String split, int images, double retrieval, double retrieval10, Double fd,
                      double styleAccuracy, Double psnr, double seconds) {
    }

    /** A sampler configuration that makes a table row. */
    public record Variant(String name, ImageSampler.Setup setup) {
    }

    /** The generated rows: the teacher at the step counts and schedulers the issue asks for, then the student. */
    public static List<Variant> variants(ModelPackage pkg) {
        List<Variant> v = new ArrayList<>();
        String t = UNetRole.TEACHER.id();
        v.add(new Variant("teacher DDIM 50", new ImageSampler.Setup(t, "ddim", 50, null, DecodeSpec.VAE)));
        v.add(new Variant("teacher DDIM 20", new ImageSampler.Setup(t, "ddim", 20, null, DecodeSpec.VAE)));
        v.add(new Variant("teacher DDIM 10", new ImageSampler.Setup(t, "ddim", 10, null, DecodeSpec.VAE)));
        v.add(new Variant("teacher DPM++ 2M 20", new ImageSampler.Setup(t, "dpmpp_2m", 20, null, DecodeSpec.VAE)));
        if (pkg.roles().contains(UNetRole.STUDENT)) {
            v.add(new Variant("student 1 step", new ImageSampler.Setup(UNetRole.STUDENT.id(), null, null, null,
                    DecodeSpec.VAE)));
        }
        return v;
    }

    private final ImageSampler sampler;
    private final Evaluator evaluator;
    private final CaptionEmbedder captions;
    private final EmojiDataset dataset;
    private final Consumer<String> log;

    public EmojiEvaluation(ImageSampler sampler, EmojiDataset dataset, Consumer<String> log) {
        ModelPackage pkg = sampler.modelPackage();
        this.sampler = sampler;
        this.evaluator = new Evaluator(pkg.evaluator().orElseThrow(() -> new IllegalArgumentException("model "
                + pkg.id() + " ships no evaluator (kiln.json components.evaluator), so it cannot be evaluated")));
        this.captions = new CaptionEmbedder(TextEncoder.of(pkg));
        this.dataset = dataset;
        this.log = log;
    }

    public Evaluator evaluator() {
        return evaluator;
    }

    public CaptionEmbedder captions() {
        return captions;
    }

    /** The whole table over {@code prompts} (both splits, in that order). */
    public List<Row> run(List<EvalPrompt> prompts) {
        ModelPackage pkg = sampler.modelPackage();
        boolean hasConsistency = pkg.componentPath(ModelPackage.CONSISTENCY_DECODER).isPresent();
        List<Row> rows = new ArrayList<>();
        for (String split : List.of(EvalPrompt.HELD_IN, EvalPrompt.HELD_OUT)) {
            List<EvalPrompt> ps = EvalPrompt.split(prompts, split);
            if (ps.isEmpty()) {
                continue;
            }
            String label = EvalPrompt.splitLabel(split);
            List<String> texts = ps.stream().map(EvalPrompt::caption).toList();
            long[] seeds = ps.stream().mapToLong(EvalPrompt::seed).toArray();
            float[][] captionEmb = captions.embed(texts);
            int[] styles = ps.stream().mapToInt(p -> Evaluator.styleIndex(p.style())).toArray();

            long t0 = System.nanoTime();
            List<RgbImage> real = dataset.images(ps, pkg.layout().imageSize());
            Evaluator.Judgement realJ = evaluator.judge(real);
            rows.add(row("real pictures (ceiling)", label, realJ, captionEmb, styles, null, null, t0));
            log.accept(format(rows.get(rows.size() - 1)));

            for (Variant v : variants(pkg)) {
                t0 = System.nanoTime();
                List<float[]> latents = sampler.latents(texts, seeds, v.setup());
                List<RgbImage> imgs = sampler.decode(latents, seeds, DecodeSpec.VAE);
                rows.add(row(v.name() + " + VAE", label, evaluator.judge(imgs), captionEmb, styles, realJ, null, t0));
                log.accept(format(rows.get(rows.size() - 1)));
                if (hasConsistency && v.setup().unet().equals(UNetRole.STUDENT.id())) {
                    t0 = System.nanoTime();
                    List<RgbImage> cd = sampler.decode(latents, seeds, DecodeSpec.CONSISTENCY);
                    rows.add(row(v.name() + " + consistency decoder", label, evaluator.judge(cd), captionEmb, styles,
                            realJ, null, t0));
                    log.accept(format(rows.get(rows.size() - 1)));
                }
            }

            if (pkg.vaeEncoder().isPresent()) {
                List<float[]> z = sampler.encode(real, seeds);
                List<String> decoders = hasConsistency ? List.of(DecodeSpec.VAE, DecodeSpec.CONSISTENCY) : List.of(DecodeSpec.VAE);
                for (String d : decoders) {
                    t0 = System.nanoTime();
                    List<RgbImage> rec = sampler.decode(z, seeds, d);
                    String name = (d.equals(DecodeSpec.VAE) ? "VAE decoder" : "consistency decoder") + " reconstruction";
                    rows.add(row(name, label, evaluator.judge(rec), captionEmb, styles, realJ,
                            ImageMetrics.meanPsnr(rec, real), t0));
                    log.accept(format(rows.get(rows.size() - 1)));
                }
            }
        }
        return rows;
    }

    private static Row row(String name, String split, Evaluator.Judgement j, float[][] captionEmb, int[] styles,
                           Evaluator.Judgement real, Double psnr, long t0) {
        Double fd = real == null ? null : FrechetDistance.between(j.embeddings(), real.embeddings());
        return new Row(name, split, styles.length, ImageMetrics.retrievalTop1(j.embeddings(), captionEmb, GROUP),
                ImageMetrics.retrievalTopK(j.embeddings(), captionEmb, GROUP, 10), fd,
                ImageMetrics.accuracy(j.styleLogits(), styles), psnr, (System.nanoTime() - t0) / 1e9);
    }

    static String format(Row r) {
        return String.format(Locale.ROOT, "%-45s %-8s n=%d retrieval %.3f top-10 %.3f FD %s style %.3f%s (%.1f s)",
                r.name(), r.split(), r.images(), r.retrieval(), r.retrieval10(), r.fd() == null ? "-" : String.format(Locale.ROOT, "%.4f", r.fd()),
                r.styleAccuracy(), r.psnr() == null ? "" : String.format(Locale.ROOT, " PSNR %.2f dB", r.psnr()),
                r.seconds());
    }

    /** The table for the model card. */
    public static String markdown(List<Row> rows) {
        StringBuilder b = new StringBuilder();
        b.append("| pictures | prompts | n | top-1 retrieval (of ").append(GROUP)
                .append(") | top-10 | emoji-FD ↓ | style accuracy | PSNR (dB) |\n");
        b.append("|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %s | %s | %d | %.3f | %.3f | %s | %.3f | %s |%n", r.name(), r.split(),
                    r.images(), r.retrieval(), r.retrieval10(), r.fd() == null ? "—" : String.format(Locale.ROOT, "%.4f", r.fd()),
                    r.styleAccuracy(), r.psnr() == null ? "—" : String.format(Locale.ROOT, "%.2f", r.psnr())));
        }
        return b.toString();
    }

    /** The targets, checked against the held-in rows; lines of text, one per target. */
    public static List<String> targets(List<Row> rows) {
        List<String> out = new ArrayList<>();
        Row real = find(rows, "real pictures (ceiling)", "held-in");
        Row t50 = find(rows, "teacher DDIM 50 + VAE", "held-in");
        Row student = find(rows, "student 1 step + VAE", "held-in");
        if (real != null && t50 != null && real.retrieval() > 0) {
            double ratio = t50.retrieval() / real.retrieval();
            out.add(String.format(Locale.ROOT, "teacher-50 retrieval / real ceiling (held-in): %.3f / %.3f = %.2f (target >= 0.5): %s",
                    t50.retrieval(), real.retrieval(), ratio, ratio >= 0.5 ? "met" : "NOT met"));
        }
        if (t50 != null && student != null && t50.retrieval() > 0 && t50.fd() > 0) {
            double r = student.retrieval() / t50.retrieval();
            out.add(String.format(Locale.ROOT, "student / teacher-50 retrieval (held-in): %.3f / %.3f = %.2f (target >= 0.9): %s",
                    student.retrieval(), t50.retrieval(), r, r >= 0.9 ? "met" : "NOT met"));
            double f = student.fd() / t50.fd();
            out.add(String.format(Locale.ROOT, "student / teacher-50 emoji-FD (held-in): %.4f / %.4f = %.2f (target <= 1.5): %s",
                    student.fd(), t50.fd(), f, f <= 1.5 ? "met" : "NOT met"));
        }
        return out;
    }

    private static Row find(List<Row> rows, String name, String split) {
        return rows.stream().filter(r -> r.name().equals(name) && r.split().equals(split)).findFirst().orElse(null);
    }

    /** The rows as JSON, with the settings that make them reproducible. */
    public static String json(String model, List<Row> rows) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        root.put("model", model);
        root.put("retrieval_group", GROUP);
        ArrayNode arr = root.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = arr.addObject();
            o.put("name", r.name());
            o.put("split", r.split());
            o.put("images", r.images());
            o.put("retrieval_top1", r.retrieval());
            o.put("retrieval_top10", r.retrieval10());
            if (r.fd() != null) {
                o.put("emoji_fd", r.fd());
            }
            o.put("style_accuracy", r.styleAccuracy());
            if (r.psnr() != null) {
                o.put("psnr_db", r.psnr());
            }
            o.put("seconds", r.seconds());
        }
        root.putPOJO("targets", targets(rows));
        try {
            return m.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
