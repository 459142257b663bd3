package dev.kiln.pipeline.model;

import java.util.Locale;
import java.util.Optional;

/**
 * Which of a package's denoising networks a request runs: the teacher ({@code unet/model.onnx}, sampled
 * over many steps) or a distilled one-step student ({@code kiln.json}'s {@code student_unet} component).
 * Both have the same signature, so everything else in the pipeline treats them alike.
 */
public enum UNetRole {
    TEACHER("teacher"),
    STUDENT("student");

    private final String id;

    UNetRole(String id) {
        this.id = id;
    }

    /** The name requests, {@code kiln.json} and PNG parameters use. */
    public String id() {
        return id;
    }

    /** The role called {@code name} (case-insensitive), or empty for any other name. */
    public static Optional<UNetRole> parse(String name) {
        if (name == null) {
            return Optional.empty();
        }
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (UNetRole r : values()) {
            if (r.id.equals(n)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }
}
