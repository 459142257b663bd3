package dev.kiln.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kiln.gateway.jobs.Job;
import dev.kiln.gateway.jobs.JobError;
import dev.kiln.gateway.jobs.JobResult;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * A job as the API shows it. {@code result} has the images API's response shape; {@code error} OpenAI's
 * error fields (plus the HTTP status the synchronous API would have answered).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobView(String id, String object, String status, String model,
                      @JsonProperty("created_at") long createdAt,
                      @JsonProperty("started_at") Long startedAt,
                      @JsonProperty("finished_at") Long finishedAt,
                      Progress progress,
                      @JsonProperty("cancel_requested") Boolean cancelRequested,
                      ImageGenerationResponse result,
                      Failure error) {

    public static final String OBJECT = "image.generation.job";

    /** Denoising steps done of all the job takes. */
    public record Progress(int step, int total) {
    }

    /** OpenAI's error fields and the HTTP status. */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record Failure(String message, String type, String param, String code, int status) {
    }

    /**
     * @param live   live progress ({step, total}) when this gateway runs the job, else null
     * @param url    the URL of picture i of the job
     * @param image  picture i of the job (for {@code b64_json} results), or null to link every picture by its URL
     *               whatever the job's response format (job lists, which would otherwise read every job's pictures)
     */
    static JobView of(Job job, int[] live, BiFunction<String, Integer, String> url, BiFunction<String, Integer, byte[]> image) {
        int step = live != null ? live[0] : job.step();
        int total = live != null ? live[1] : job.totalSteps();
        ImageGenerationResponse result = null;
        JobResult r = job.result();
        if (r != null) {
            List<ImageGenerationResponse.Item> items = new ArrayList<>();
            for (JobResult.Image img : r.images()) {
                if ("b64_json".equals(r.responseFormat()) && image != null) {
                    byte[] png = image.apply(job.id(), img.index());
                    items.add(new ImageGenerationResponse.Item(null, png == null ? null : Base64.getEncoder().encodeToString(png),
                            img.revisedPrompt(), img.seed()));
                } else {
                    items.add(new ImageGenerationResponse.Item(url.apply(job.id(), img.index()), null, img.revisedPrompt(), img.seed()));
                }
            }
            result = new ImageGenerationResponse(r.created(), items, r.warnings() == null || r.warnings().isEmpty() ? null : r.warnings());
        }
        JobError e = job.error();
        Function<Instant, Long> secs = t -> t == null ? null : t.getEpochSecond();
        return new JobView(job.id(), OBJECT, job.status().wireName(), job.model(), job.createdAt().getEpochSecond(),
                secs.apply(job.startedAt()), secs.apply(job.finishedAt()), new Progress(step, total),
                job.cancelRequested() && !job.status().isFinal() ? Boolean.TRUE : null, result,
                e == null ? null : new Failure(e.message(), e.type(), e.param(), e.code(), e.status()));
    }
}
