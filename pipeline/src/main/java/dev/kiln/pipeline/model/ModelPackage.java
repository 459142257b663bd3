package dev.kiln.pipeline.model;

import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.scheduler.Scheduler;
import dev.kiln.pipeline.scheduler.SchedulerConfig;
import dev.kiln.pipeline.scheduler.Schedulers;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model package on disk: the diffusers ONNX layout plus Kiln's optional {@code kiln.json}.
 *
 * <pre>
 * model_index.json
 * tokenizer/tokenizer.json   (or vocab.json + merges.txt, as the old diffusers script saved them)
 * text_encoder/model.onnx  unet/model.onnx  vae_decoder/model.onnx  [vae_encoder/model.onnx]
 * scheduler/scheduler_config.json
 * [kiln.json]
 * </pre>
 *
 * Loading opens every required session at once so a broken package fails at start-up with a
 * message naming the file, not in the middle of a request. Optional components named in
 * {@code kiln.json}'s {@code components} open on first use, but their files are checked at load:
 * <ul>
 *   <li>{@code student_unet}: a one-step (DMD) student with the teacher's signature; requests choose it
 *       or the teacher ({@link UNetRole}), {@code defaults.unet} says which one they get by default;</li>
 *   <li>{@code consistency_decoder}: a pixel-space decoder sampled in two steps
 *       ({@link dev.kiln.pipeline.decode.ConsistencyDecoder}) over the schedule named by the top-level
 *       {@code consistency_schedule} ({@code discrete}, OpenAI's and the default, or {@code continuous});</li>
 *   <li>{@code evaluator}: the image encoder that judges quality ({@code kiln eval});</li>
 *   <li>{@code unet_torchscript}: the teacher's TorchScript twin, for adapter training (not ONNX).</li>
 * </ul>
 * {@code defaults} holds the sampling defaults of the default UNet, {@code teacher_defaults} (or
 * {@code student_defaults}) those of the other one.
 */
public final class ModelPackage implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String id;
    private final Path root;
    private final JsonNode manifest;
    private final OnnxRuntimeOptions options;
    private final OnnxModel textEncoder;
    private final OnnxModel unet;
    private final OnnxModel vaeDecoder;
    private final Map<String, OnnxModel> optional = new LinkedHashMap<>();
    private final ConditioningLayout layout;
    private final SchedulerConfig schedulerConfig;
    /** By canonical name: schedulers are immutable, and building one computes the whole 1000-step noise schedule. */
    private final Map<String, Scheduler> schedulers = new java.util.concurrent.ConcurrentHashMap<>();
    private final UNetRole defaultRole;

    public static final String STUDENT_UNET = "student_unet";
    public static final String CONSISTENCY_DECODER = "consistency_decoder";
    public static final String EVALUATOR = "evaluator";
    public static final String UNET_TORCHSCRIPT = "unet_torchscript";

    private ModelPackage(String id, Path root, JsonNode manifest, SchedulerConfig schedulerConfig,
                         OnnxRuntimeOptions options) {
        this.schedulerConfig = schedulerConfig;
        this.id = id;
        this.root = root;
        this.manifest = manifest;
        this.options = options;
        List<OnnxModel> opened = new ArrayList<>();
        try {
            if (options == null) {
                // described only: the signatures, read without the weights, and no sessions
                this.textEncoder = null;
                this.unet = null;
                this.vaeDecoder = null;
                signature("vae_decoder/model.onnx"); // read so that a missing or broken decoder fails here too
                this.layout = readLayout(signature("text_encoder/model.onnx"), signature("unet/model.onnx"));
            } else {
                this.textEncoder = track(opened, OnnxModel.open(root.resolve("text_encoder/model.onnx"), id + ": text_encoder/model.onnx", options));
                this.unet = track(opened, OnnxModel.open(root.resolve("unet/model.onnx"), id + ": unet/model.onnx", options));
                this.vaeDecoder = track(opened, OnnxModel.open(root.resolve("vae_decoder/model.onnx"), id + ": vae_decoder/model.onnx", options));
                this.layout = readLayout(textEncoder.signature(), unet.signature());
            }
            checkComponents();
            this.defaultRole = readDefaultRole();
        } catch (RuntimeException e) {
            opened.forEach(OnnxModel::close);
            throw e;
        }
    }

    private static OnnxModel track(List<OnnxModel> opened, OnnxModel m) {
        opened.add(m);
        return m;
    }

    /**
     * Loads the package in {@code root}, with the folder name as its id.
     *
     * @throws ModelLoadException naming the missing or broken file
     */
    public static ModelPackage load(Path root, OnnxRuntimeOptions options) {
        return load(root.getFileName().toString(), root, options);
    }

    /**
     * The package in {@code root} described only: its manifest, scheduler, conditioning layout and components, with
     * the layout read from the ONNX files' declared inputs and outputs, and no ONNX Runtime session (so none of the
     * weights) in memory. For a process that resolves requests but runs no stage, such as the distributed gateway;
     * asking it for a session fails.
     *
     * @throws ModelLoadException naming the missing or broken file
     */
    public static ModelPackage describe(String id, Path root) {
        return load(id, root, null);
    }

    /** Whether this package holds ONNX Runtime sessions, or was {@linkplain #describe described} only. */
    public boolean hasSessions() {
        return options != null;
    }

    public static ModelPackage load(String id, Path root, OnnxRuntimeOptions options) {
        if (!Files.isDirectory(root)) {
            throw new ModelLoadException("model package '" + id + "' not found: " + root + " is not a directory");
        }
        if (!Files.isRegularFile(root.resolve("model_index.json"))) {
            throw new ModelLoadException(id + ": model_index.json is missing in " + root
                    + "; a model package uses the diffusers ONNX layout");
        }
        readJson(root.resolve("model_index.json"), id + ": model_index.json");
        if (!Files.isRegularFile(root.resolve("scheduler/scheduler_config.json"))) {
            throw new ModelLoadException(id + ": scheduler/scheduler_config.json is missing in " + root);
        }
        SchedulerConfig scheduler;
        try {
            // parsed now so a broken config fails the load, not the first request that samples
            scheduler = SchedulerConfig.read(root.resolve("scheduler/scheduler_config.json"));
        } catch (RuntimeException e) {
            throw new ModelLoadException(id + ": scheduler/scheduler_config.json: " + e.getMessage(), e);
        }
        Path kiln = root.resolve("kiln.json");
        JsonNode manifest = Files.isRegularFile(kiln) ? readJson(kiln, id + ": kiln.json") : JSON.createObjectNode();
        return new ModelPackage(id, root, manifest, scheduler, options);
    }

    static JsonNode readJson(Path file, String label) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelLoadException(label + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** What the file at {@code relative} declares, read without its weights. */
    private OnnxSignature signature(String relative) {
        Path file = root.resolve(relative);
        String label = id + ": " + relative;
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(label + " is missing (looked for " + file + ")");
        }
        return OnnxSignature.read(file, label);
    }

    /** The layout from the text encoder's and UNet's declared inputs and outputs, and {@code kiln.json}. */
    private ConditioningLayout readLayout(OnnxSignature textEncoder, OnnxSignature unet) {
        JsonNode c = manifest.path("conditioning");
        TensorSpec ids = textEncoder.input("input_ids");
        int maxTokens = ids.rank() == 2 && ids.dim(1) > 0 ? (int) ids.dim(1) : c.path("max_tokens").asInt(77);
        TensorSpec hidden = textEncoder.outputs().getOrDefault(hiddenStateOutput(), null);
        if (hidden == null) {
            throw new ModelLoadException(id + ": text_encoder/model.onnx has no output '" + hiddenStateOutput()
                    + "' (outputs: " + textEncoder.outputs().keySet() + ")");
        }
        int width = hidden.rank() == 3 && hidden.dim(2) > 0 ? (int) hidden.dim(2) : c.path("context_width").asInt(768);
        TensorSpec sample = unet.input("sample");
        int channels = sample.rank() == 4 && sample.dim(1) > 0 ? (int) sample.dim(1) : c.path("latent_channels").asInt(4);
        unet.input("timestep");
        unet.input("encoder_hidden_states");
        double scaling = c.has("scaling_factor") ? c.get("scaling_factor").asDouble() : vaeScalingFactor();
        int factor = c.path("latent_factor").asInt(8);
        return new ConditioningLayout(maxTokens, width, channels, factor, scaling,
                c.path("image_size").asInt(512), c.path("size_multiple").asInt(factor * 8),
                c.path("max_image_size").asInt(2048));
    }

    /** A package that names a file it does not ship is broken: say so at load, not at the first request. */
    private void checkComponents() {
        JsonNode components = manifest.path("components");
        if (components.isMissingNode()) {
            return;
        }
        if (!components.isObject()) {
            throw new ModelLoadException(id + ": kiln.json: components must be an object of name -> relative path");
        }
        components.fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual()) {
                throw new ModelLoadException(id + ": kiln.json: components." + e.getKey() + " must be a relative path");
            }
            Path p = root.resolve(e.getValue().asText());
            if (!Files.isRegularFile(p)) {
                throw new ModelLoadException(id + ": kiln.json names component " + e.getKey() + " at "
                        + e.getValue().asText() + ", but " + p + " is missing");
            }
        });
    }

    private UNetRole readDefaultRole() {
        JsonNode n = manifest.path("defaults").path("unet");
        if (n.isMissingNode() || n.isNull()) {
            return UNetRole.TEACHER;
        }
        UNetRole r = UNetRole.parse(n.asText()).orElseThrow(() -> new ModelLoadException(id
                + ": kiln.json: defaults.unet must be \"teacher\" or \"student\", was " + n));
        if (!roles().contains(r)) {
            throw new ModelLoadException(id + ": kiln.json: defaults.unet is \"student\" but components has no "
                    + STUDENT_UNET);
        }
        return r;
    }

    private double vaeScalingFactor() {
        for (String f : List.of("vae_decoder/config.json", "vae/config.json")) {
            Path p = root.resolve(f);
            if (Files.isRegularFile(p)) {
                JsonNode n = readJson(p, id + ": " + f);
                if (n.has("scaling_factor")) {
                    return n.get("scaling_factor").asDouble();
                }
            }
        }
        return 0.18215;
    }

    public String id() {
        return id;
    }

    public Path root() {
        return root;
    }

    public ConditioningLayout layout() {
        return layout;
    }

    /** How this package's sessions are opened; null for a package {@linkplain #describe described} only. */
    public OnnxRuntimeOptions runtimeOptions() {
        return options;
    }

    /** The raw {@code kiln.json} (an empty object when the package has none). */
    public JsonNode manifest() {
        return manifest;
    }

    /** Name of the text encoder output used as conditioning. */
    public String hiddenStateOutput() {
        return manifest.path("conditioning").path("hidden_state_output").asText("last_hidden_state");
    }

    public Path tokenizerDir() {
        return root.resolve("tokenizer");
    }

    /** The package's {@code scheduler/scheduler_config.json}, parsed and checked at load. */
    public SchedulerConfig schedulerConfig() {
        return schedulerConfig;
    }

    /**
     * The scheduler called {@code name} (any spelling {@link Schedulers#create} accepts) over this package's
     * scheduler config, built on first use and shared after.
     *
     * @throws IllegalArgumentException for an unknown name, listing the known ones
     */
    public Scheduler scheduler(String name) {
        // keyed by the package rather than by an equal config: hashing the config record on every request cost
        // more than the rest of resolving a request's settings (bench/, profiled)
        return schedulers.computeIfAbsent(Schedulers.canonicalName(name), n -> Schedulers.create(n, schedulerConfig));
    }

    public OnnxModel textEncoder() {
        return sessions(textEncoder);
    }

    public OnnxModel unet() {
        return sessions(unet);
    }

    /** The UNets this package offers: the teacher always, the student when {@code kiln.json} names one. */
    public List<UNetRole> roles() {
        return componentPath(STUDENT_UNET).isPresent() ? List.of(UNetRole.TEACHER, UNetRole.STUDENT)
                : List.of(UNetRole.TEACHER);
    }

    /** The UNet a request gets when it does not choose ({@code defaults.unet}, else the teacher). */
    public UNetRole defaultRole() {
        return defaultRole;
    }

    /**
     * The UNet playing {@code role}, opened on first use.
     *
     * @throws IllegalArgumentException when the package has no such UNet (see {@link #roles()})
     */
    public OnnxModel unet(UNetRole role) {
        if (role == UNetRole.TEACHER) {
            return unet();
        }
        return component(STUDENT_UNET).orElseThrow(() -> new IllegalArgumentException("model " + id
                + " has no one-step student UNet; it offers: " + roles().stream().map(UNetRole::id).toList()));
    }

    /**
     * Sampling defaults for {@code role}: {@code defaults} for the default UNet, else
     * {@code teacher_defaults} or {@code student_defaults}.
     */
    public SamplingDefaults samplingDefaults(UNetRole role) {
        JsonNode d = role == defaultRole ? manifest.path("defaults") : manifest.path(role.id() + "_defaults");
        return new SamplingDefaults(d.hasNonNull("steps") ? d.get("steps").asInt() : null,
                d.hasNonNull("scheduler") ? d.get("scheduler").asText() : null,
                d.hasNonNull("guidance") ? d.get("guidance").asDouble() : null);
    }

    /** Where {@code kiln.json} puts component {@code name}, checked to exist at load; empty when it names none. */
    public Optional<Path> componentPath(String name) {
        JsonNode rel = manifest.path("components").path(name);
        return rel.isTextual() ? Optional.of(root.resolve(rel.asText())) : Optional.empty();
    }

    /** The consistency decoder, when the package ships one. */
    public Optional<OnnxModel> consistencyDecoder() {
        return component(CONSISTENCY_DECODER);
    }

    /** The evaluator (image embedding and style head), when the package ships one. */
    public Optional<OnnxModel> evaluator() {
        return component(EVALUATOR);
    }

    public OnnxModel vaeDecoder() {
        return sessions(vaeDecoder);
    }

    /** The VAE encoder, needed only for image-to-image; empty when the package ships none. */
    public Optional<OnnxModel> vaeEncoder() {
        return component("vae_encoder", "vae_encoder/model.onnx");
    }

    /**
     * An optional ONNX component named in {@code kiln.json}'s {@code components}, opened on first use.
     * Empty when the package does not declare it.
     */
    public Optional<OnnxModel> component(String name) {
        JsonNode rel = manifest.path("components").path(name);
        if (!rel.isTextual()) {
            return Optional.empty();
        }
        return component(name, rel.asText());
    }

    /** Whether the package ships a VAE encoder (image-to-image), without opening it. */
    public boolean hasVaeEncoder() {
        return Files.exists(root.resolve("vae_encoder/model.onnx"));
    }

    private OnnxModel sessions(OnnxModel m) {
        if (m == null) {
            throw describedOnly();
        }
        return m;
    }

    private IllegalStateException describedOnly() {
        return new IllegalStateException("model " + id + " was described only (its layout and defaults, for "
                + "resolving requests); its sessions run in the stage services, not in this process");
    }

    private synchronized Optional<OnnxModel> component(String name, String relative) {
        OnnxModel m = optional.get(name);
        if (m == null) {
            Path p = root.resolve(relative);
            if (!Files.exists(p) && name.equals("vae_encoder")) {
                return Optional.empty();
            }
            m = OnnxModel.open(p, id + ": " + relative, sessionOptions());
            optional.put(name, m);
        }
        return Optional.of(m);
    }

    /** Generation defaults from {@code kiln.json}'s {@code defaults}, or {@code fallback}. */
    public String defaultString(String key, String fallback) {
        return manifest.path("defaults").path(key).asText(fallback);
    }

    public int defaultInt(String key, int fallback) {
        return manifest.path("defaults").path(key).asInt(fallback);
    }

    public double defaultDouble(String key, double fallback) {
        return manifest.path("defaults").path(key).asDouble(fallback);
    }

    private OnnxRuntimeOptions sessionOptions() {
        if (options == null) {
            throw describedOnly();
        }
        return options;
    }

    @Override
    public synchronized void close() {
        if (textEncoder != null) {
            textEncoder.close();
            unet.close();
            vaeDecoder.close();
        }
        optional.values().forEach(OnnxModel::close);
        optional.clear();
    }
}
