package dev.kiln.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.gateway.jobs.Job;
import dev.kiln.gateway.jobs.JobError;
import dev.kiln.gateway.jobs.JobResult;
import dev.kiln.gateway.jobs.JobRunner;
import dev.kiln.pipeline.GeneratedImage;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.image.ImageFiles;
import dev.kiln.pipeline.image.PngEncoder;
import dev.kiln.pipeline.model.ConditioningLayout;
import dev.kiln.pipeline.stage.DecodeSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/** A job is the synchronous API's request run through the same pipeline, with progress and cancellation. */
final class PipelineJobWork implements JobRunner.Work {
    private final StageWiring stages;
    /** A job may run longer than a synchronous request: nobody holds a connection open for it. */
    private final Duration timeout;
    private final ObjectMapper json;
    private final int previewSize;
    private final Map<String, GenerationSettings> inFlight = new ConcurrentHashMap<>();

    PipelineJobWork(StageWiring stages, ObjectMapper json, int previewSize, Duration timeout) {
        this.stages = stages;
        this.timeout = timeout;
        this.json = json;
        this.previewSize = previewSize;
    }

    /** The stored form of a request body. */
    static String write(ObjectMapper json, ImageGenerationRequest body) {
        try {
            return json.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    @Override
    public boolean ready() {
        return stages.problem() == null;
    }

    @Override
    public JobRunner.Output run(Job job, DenoiseProgress progress, BooleanSupplier cancelled) {
        ImageGenerationRequest body;
        try {
            body = json.readValue(job.request(), ImageGenerationRequest.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the stored request of job " + job.id() + " is unreadable: " + e.getOriginalMessage(), e);
        }
        String format = ImagesResource.checkedFormat(body);
        GenerationPipeline p = stages.pipeline();
        GenerationSettings s = p.resolve(ImagesResource.toRequest(body));
        inFlight.put(job.id(), s);
        try {
            GenerationResult r = p.generate(s, progress, cancelled, Instant.now().plus(timeout));
            List<JobResult.Image> images = new ArrayList<>();
            List<byte[]> pngs = new ArrayList<>();
            for (GeneratedImage img : r.images()) {
                images.add(new JobResult.Image(img.index(), img.seed(), s.prompt()));
                pngs.add(img.png());
            }
            return new JobRunner.Output(new JobResult(System.currentTimeMillis() / 1000, format, images, r.warnings()), pngs);
        } finally {
            inFlight.remove(job.id());
        }
    }

    @Override
    public byte[] preview(Job job, float[] latents) {
        GenerationSettings s = inFlight.get(job.id());
        if (s == null) {
            return null;
        }
        GenerationPipeline p = stages.pipeline();
        ConditioningLayout layout = p.catalog().get(s.model()).layout();
        int f = layout.latentFactor();
        long[] shape = {layout.latentChannels(), s.height() / f, s.width() / f};
        byte[] png = p.decoder().decode(new DecodeSpec(s.model(), List.of(latents), shape, s.decoder(),
                List.of(Map.of()))).get(0);
        int side = Math.max(s.width(), s.height());
        if (side <= previewSize) {
            return png;
        }
        int w = Math.max(1, s.width() * previewSize / side);
        int h = Math.max(1, s.height() * previewSize / side);
        return PngEncoder.encode(ImageFiles.read(png, w, h), Map.of());
    }

    @Override
    public JobError describe(RuntimeException failure) {
        return ApiExceptionMappers.describe(failure);
    }
}
