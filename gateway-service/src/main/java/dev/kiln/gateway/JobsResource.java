package dev.kiln.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.gateway.jobs.Job;
import dev.kiln.gateway.jobs.JobEvent;
import dev.kiln.gateway.jobs.JobEvents;
import dev.kiln.gateway.jobs.JobStatus;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.error.OverloadedException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import jakarta.ws.rs.sse.Sse;
import jakarta.ws.rs.sse.SseEventSink;
import java.net.URI;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The asynchronous API: submit a generation as a job, poll it, follow it as server-sent events, cancel it.
 * A job takes the same body as {@code POST /v1/images/generations} and its result has the same shape.
 */
@Path("/v1/jobs")
@Tag(name = "jobs", description = "Asynchronous image generation with progress events and cancellation")
public class JobsResource {
    /** How often an event stream re-reads the store, for jobs run by another gateway replica. */
    private static final long POLL_MILLIS = 1000;
    private static final ScheduledExecutorService POLLER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kiln-job-event-poll");
        t.setDaemon(true);
        return t;
    });

    @Inject
    Jobs jobs;
    @Inject
    StageWiring stages;
    @Inject
    ObjectMapper json;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Submit a generation job", description = "Same body as POST /v1/images/generations. "
            + "Checked at once (400/404 for a bad request); answers 202 with the queued job and its Location, "
            + "or 429 with Retry-After when the queue is full.")
    @APIResponse(responseCode = "202", description = "Accepted and queued",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "400", description = "Invalid request", content = @Content(schema = @Schema(implementation = ApiError.class)))
    @APIResponse(responseCode = "404", description = "Unknown model", content = @Content(schema = @Schema(implementation = ApiError.class)))
    @APIResponse(responseCode = "429", description = "Job queue full; retry after the Retry-After header's seconds",
            content = @Content(schema = @Schema(implementation = ApiError.class)))
    public Response submit(ImageGenerationRequest body, @Context UriInfo uri) {
        ImagesResource.checkedFormat(body);
        GenerationSettings s = stages.pipeline().resolve(ImagesResource.toRequest(body));
        Job job = Job.queued(UUID.randomUUID().toString(), PipelineJobWork.write(json, body.withSeed(s.seed())), s.model(),
                s.steps(), Instant.now());
        try {
            jobs.runner().submit(job);
        } catch (OverloadedException e) {
            jobs.rejected("queue_full");
            throw e;
        }
        URI location = uri.getBaseUriBuilder().path("v1/jobs").path(job.id()).build();
        return Response.accepted(view(job, uri)).location(location).build();
    }

    /** Most jobs one page lists. */
    static final int MAX_PAGE = 100;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "List jobs, newest first", description = "A page of jobs (each as GET /v1/jobs/{id} shows it, "
            + "with pictures always as URLs), optionally only those in one status. While has_more is true, "
            + "GET /v1/jobs?before=<last_id> gives the next page.")
    @APIResponse(responseCode = "200", description = "A page of jobs",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobList.class)))
    @APIResponse(responseCode = "400", description = "Unknown status, a limit out of range, or a cursor naming no job",
            content = @Content(schema = @Schema(implementation = ApiError.class)))
    public JobList list(@Parameter(description = "queued, running, succeeded, failed or cancelled") @QueryParam("status") String status,
                        @Parameter(description = "jobs per page, 1 to 100 (default 20)") @QueryParam("limit") Integer limit,
                        @Parameter(description = "the last_id of the previous page") @QueryParam("before") String before,
                        @Context UriInfo uri) {
        JobStatus only = null;
        if (status != null && !status.isBlank()) {
            only = Arrays.stream(JobStatus.values()).filter(v -> v.wireName().equals(status)).findFirst()
                    .orElseThrow(() -> new InvalidRequestException("status", "status '" + status + "' is not one of "
                            + "queued, running, succeeded, failed, cancelled"));
        }
        int n = limit == null ? 20 : limit;
        if (n < 1 || n > MAX_PAGE) {
            throw new InvalidRequestException("limit", "limit must be between 1 and " + MAX_PAGE + ", was " + n);
        }
        if (before != null && jobs.store().get(before).isEmpty()) {
            throw new InvalidRequestException("before", "before names no job ('" + before + "'); pass the last_id "
                    + "of the previous page, or leave it out for the newest jobs");
        }
        List<Job> page = jobs.store().list(only, n + 1, before);
        List<JobView> views = page.stream().limit(n)
                .map(j -> JobView.of(j, jobs.runner().progress(j.id()), pictureUrl(uri), null)).toList();
        return JobList.of(views, page.size() > n);
    }

    @GET
    @Path("/{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "A job's status, progress, and result or error")
    @APIResponse(responseCode = "200", description = "The job",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "404", description = "No such job", content = @Content(schema = @Schema(implementation = ApiError.class)))
    public JobView get(@PathParam("id") String id, @Context UriInfo uri) {
        return view(find(id), uri);
    }

    @DELETE
    @Path("/{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Cancel a job", description = "A queued job is cancelled at once; a running one leaves its "
            + "denoising batch at the next step (the answer waits briefly for that). Cancelling a cancelled job is "
            + "harmless; a job that already succeeded or failed answers 409.")
    @APIResponse(responseCode = "200", description = "The job after the cancellation",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "404", description = "No such job", content = @Content(schema = @Schema(implementation = ApiError.class)))
    @APIResponse(responseCode = "409", description = "The job has already finished", content = @Content(schema = @Schema(implementation = ApiError.class)))
    public Response cancel(@PathParam("id") String id, @Context UriInfo uri) throws InterruptedException {
        Job before = find(id);
        if (before.status() == JobStatus.SUCCEEDED || before.status() == JobStatus.FAILED) {
            return Response.status(409).type(MediaType.APPLICATION_JSON).entity(ApiError.of("job " + id + " has already "
                    + before.status().wireName() + "; there is nothing to cancel", "invalid_request_error", "id",
                    "job_finished")).build();
        }
        Job after = jobs.runner().cancel(id).orElseThrow(() -> unknown(id));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!after.status().isFinal() && System.nanoTime() < deadline) {
            Thread.sleep(20);
            after = find(id);
        }
        return Response.ok(view(after, uri)).build();
    }

    @GET
    @Path("/{id}/images/{index}.png")
    @Produces("image/png")
    @Operation(summary = "Picture number index (from 0) of a succeeded job")
    @APIResponse(responseCode = "200", description = "The PNG, generation parameters in its text chunk")
    @APIResponse(responseCode = "404", description = "No such job or picture", content = @Content(schema = @Schema(implementation = ApiError.class)))
    public Response image(@PathParam("id") String id, @PathParam("index") int index) {
        Job job = find(id);
        byte[] png = job.status() == JobStatus.SUCCEEDED ? jobs.store().image(id, index) : null;
        if (png == null) {
            throw new NotFoundException("job " + id + " has no picture " + index + " (status " + job.status().wireName()
                    + "); pictures exist once a job has succeeded, numbered from 0");
        }
        return Response.ok(png, "image/png").header("Cache-Control", "private, max-age=86400").build();
    }

    @GET
    @Path("/{id}/events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Operation(summary = "Follow a job as server-sent events", description = "Events: queued, running, step "
            + "(data: step, total, and with preview=true now and then a small PNG preview in base64), then one of done, "
            + "failed, cancelled, after which the stream ends. The first event tells the job's current state, so a "
            + "client arriving late (or after the end) still learns where it stands.")
    @APIResponse(responseCode = "200", description = "The event stream", content = @Content(mediaType = MediaType.SERVER_SENT_EVENTS))
    @APIResponse(responseCode = "404", description = "No such job", content = @Content(schema = @Schema(implementation = ApiError.class)))
    public void events(@PathParam("id") String id,
                       @Parameter(description = "send small previews of the picture as it forms") @QueryParam("preview") boolean preview,
                       @Context SseEventSink sink, @Context Sse sse, @Context UriInfo uri) {
        find(id);
        new EventStream(id, sink, sse, uri).start(preview);
    }

    /** One client's event stream: events in order, steps never going back, closed after the final event. */
    private final class EventStream {
        private final String id;
        private final SseEventSink sink;
        private final Sse sse;
        private final UriInfo uri;
        private int lastStep = -1;
        private String lastType;
        private boolean ended;
        private boolean finalSeen;
        private JobEvents.Subscription subscription;
        private ScheduledFuture<?> poll;

        EventStream(String id, SseEventSink sink, Sse sse, UriInfo uri) {
            this.id = id;
            this.sink = sink;
            this.sse = sse;
            this.uri = uri;
        }

        void start(boolean preview) {
            subscription = jobs.events().subscribe(id, preview, this::send);
            // subscribed first, then read: an event in between is sent twice at worst, never lost
            jobs.store().get(id).ifPresent(j -> send(JobEvent.of(j)));
            poll = POLLER.scheduleWithFixedDelay(this::poll, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
        }

        private void poll() {
            try {
                Optional<Job> j = jobs.store().get(id);
                if (j.isEmpty()) {
                    end();
                    return;
                }
                Job job = j.get();
                int[] live = jobs.runner().progress(id);
                if (job.status().isFinal()) {
                    // this gateway's runner tells its own jobs' endings, after their last steps; the store's
                    // word is for jobs another replica ran, or an ending this stream somehow missed
                    if (finalSeen) {
                        send(JobEvent.of(job));
                    }
                    finalSeen = true;
                } else if (job.status() == JobStatus.RUNNING && live == null && job.step() > lastStep) {
                    send(JobEvent.step(id, job.step(), job.totalSteps(), null));
                } else if (!job.status().wireName().equals(statusOf(lastType))) {
                    send(JobEvent.of(job));
                }
            } catch (RuntimeException e) {
                // the store may be briefly unreachable; the next poll tries again
            }
        }

        private static String statusOf(String type) {
            if (type == null) {
                return null;
            }
            return switch (type) {
                case JobEvent.STEP -> "running";
                case JobEvent.DONE -> "succeeded";
                default -> type;
            };
        }

        private synchronized void send(JobEvent e) {
            if (ended || sink.isClosed()) {
                end();
                return;
            }
            if (e.type().equals(JobEvent.STEP) && e.step() <= lastStep) {
                return;
            }
            if (!e.type().equals(JobEvent.STEP) && e.type().equals(lastType) && !e.isFinal()) {
                return;
            }
            Map<String, Object> data;
            if (e.type().equals(JobEvent.STEP)) {
                data = new LinkedHashMap<>();
                data.put("id", id);
                data.put("step", e.step());
                data.put("total", e.total());
                if (e.preview() != null) {
                    data.put("preview", "data:image/png;base64," + Base64.getEncoder().encodeToString(e.preview()));
                }
                lastStep = e.step();
            } else {
                data = json.convertValue(view(e.job(), uri), Map.class);
                if (e.job().status() == JobStatus.RUNNING) {
                    lastStep = Math.max(lastStep, e.job().step());
                }
            }
            lastType = e.type();
            String text;
            try {
                text = json.writeValueAsString(data);
            } catch (JsonProcessingException ex) {
                throw new IllegalStateException(ex);
            }
            boolean last = e.isFinal();
            if (last) {
                ended = true;
            }
            sink.send(sse.newEventBuilder().name(e.type()).id(e.type() + "-" + e.step()).data(text).build())
                    .whenComplete((ok, failure) -> {
                        if (failure != null || last) {
                            close();
                        }
                    });
        }

        private synchronized void end() {
            if (ended) {
                return;
            }
            ended = true;
            close();
        }

        private synchronized void close() {
            if (subscription != null) {
                subscription.close();
            }
            if (poll != null) {
                poll.cancel(false);
            }
            sink.close();
        }
    }

    private Job find(String id) {
        return jobs.store().get(id).orElseThrow(() -> unknown(id));
    }

    private static NotFoundException unknown(String id) {
        return new NotFoundException("no job with id '" + id + "'; job ids are the id field of POST /v1/jobs's answer");
    }

    private JobView view(Job job, UriInfo uri) {
        return JobView.of(job, jobs.runner().progress(job.id()), pictureUrl(uri), jobs.store()::image);
    }

    private static BiFunction<String, Integer, String> pictureUrl(UriInfo uri) {
        return (id, i) -> uri.getBaseUriBuilder().path("v1/jobs").path(id).path("images").path(i + ".png").build().toString();
    }
}
