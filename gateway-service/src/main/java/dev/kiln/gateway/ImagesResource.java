package dev.kiln.gateway;

import dev.kiln.pipeline.GeneratedImage;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.error.InvalidRequestException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** {@code POST /v1/images/generations}, compatible with OpenAI's Images API, and the files it links to. */
@Path("/v1/images")
public class ImagesResource {
    private static final Set<String> FORMATS = Set.of("url", "b64_json");
    private static final Set<String> QUALITIES = Set.of("standard", "hd", "auto", "low", "medium", "high");
    private static final Set<String> STYLES = Set.of("vivid", "natural");

    @Inject
    StageWiring stages;
    @Inject
    ImageStore store;
    @Inject
    MeterRegistry registry;

    @POST
    @Path("/generations")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public ImageGenerationResponse generate(ImageGenerationRequest body, @Context UriInfo uri) {
        String format = checkedFormat(body);
        GenerationRequest request = toRequest(body);
        Timer.Sample sample = Timer.start(registry);
        String outcome = "error";
        try {
            GenerationPipeline pipeline = stages.pipeline();
            GenerationResult result = stages.generate(pipeline.resolve(request), DenoiseProgress.NONE, () -> false);
            outcome = "ok";
            registry.counter("kiln.images.total", "model", result.settings().model(), "mode", stages.mode())
                    .increment(result.images().size());
            List<ImageGenerationResponse.Item> items = new ArrayList<>();
            for (GeneratedImage img : result.images()) {
                if (format.equals("b64_json")) {
                    items.add(new ImageGenerationResponse.Item(null, Base64.getEncoder().encodeToString(img.png()),
                            result.settings().prompt(), img.seed()));
                } else {
                    String id = store.put(img.png());
                    String url = uri.getBaseUriBuilder().path("v1/images/files").path(id + ".png").build().toString();
                    items.add(new ImageGenerationResponse.Item(url, null, result.settings().prompt(), img.seed()));
                }
            }
            return new ImageGenerationResponse(System.currentTimeMillis() / 1000, items,
                    result.warnings().isEmpty() ? null : result.warnings());
        } finally {
            sample.stop(registry.timer("kiln.stage.request.seconds", "stage", "gateway", "outcome", outcome));
        }
    }

    @GET
    @Path("/files/{id}.png")
    @Produces("image/png")
    public Response file(@PathParam("id") String id) {
        byte[] png = store.get(id);
        if (png == null) {
            throw new NotFoundException("image " + id + " does not exist or has expired; request it as b64_json to keep it");
        }
        return Response.ok(png, "image/png").header("Cache-Control", "private, max-age=3600").build();
    }

    /**
     * Checks the OpenAI fields the pipeline does not see.
     *
     * @return the response format, {@code url} when the request names none
     */
    static String checkedFormat(ImageGenerationRequest body) {
        if (body == null) {
            throw new InvalidRequestException(null, "the request body must be a JSON object with at least a prompt");
        }
        String format = body.responseFormat() == null ? "url" : body.responseFormat();
        if (!FORMATS.contains(format)) {
            throw new InvalidRequestException("response_format", "response_format must be url or b64_json, was '"
                    + body.responseFormat() + "'");
        }
        if (body.quality() != null && !QUALITIES.contains(body.quality())) {
            throw new InvalidRequestException("quality", "quality must be one of " + QUALITIES + ", was '" + body.quality() + "'");
        }
        if (body.style() != null && !STYLES.contains(body.style())) {
            throw new InvalidRequestException("style", "style must be vivid or natural, was '" + body.style() + "'");
        }
        return format;
    }

    static GenerationRequest toRequest(ImageGenerationRequest body) {
        Integer w = null;
        Integer h = null;
        if (body.size() != null && !body.size().equals("auto")) {
            String[] p = body.size().toLowerCase(Locale.ROOT).split("x");
            try {
                if (p.length != 2) {
                    throw new NumberFormatException();
                }
                w = Integer.parseInt(p[0]);
                h = Integer.parseInt(p[1]);
            } catch (NumberFormatException e) {
                throw new InvalidRequestException("size", "size must look like 512x512 (width x height in pixels), was '"
                        + body.size() + "'");
            }
        }
        byte[] init = null;
        if (body.initImage() != null) {
            try {
                init = Base64.getDecoder().decode(body.initImage());
            } catch (IllegalArgumentException e) {
                throw new InvalidRequestException("init_image", "init_image must be a base64-encoded PNG or JPEG");
            }
        }
        return GenerationRequest.builder(body.prompt()).model(body.model()).negativePrompt(body.negativePrompt())
                .size(w, h).steps(body.steps()).scheduler(body.scheduler()).guidance(body.guidanceScale())
                .seed(body.seed()).count(body.n()).initImage(init, body.strength()).unet(body.unet())
                .decoder(body.decoder()).build();
    }
}
