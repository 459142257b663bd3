package dev.kiln.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.model.ConditioningLayout;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.UNetRole;
import dev.kiln.pipeline.scheduler.Schedulers;
import dev.kiln.pipeline.stage.DecodeSpec;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code GET /v1/models} in OpenAI's list shape, each model with Kiln's details under {@code kiln}: the
 * sizes it accepts, its schedulers and the defaults a request gets when it leaves fields out.
 */
@Path("/v1/models")
@Tag(name = "models", description = "The model packages this gateway serves")
@Produces(MediaType.APPLICATION_JSON)
public class ModelsResource {

    @Inject
    StageWiring stages;

    /** OpenAI's list envelope. */
    public record ModelList(String object, List<Model> data) {
    }

    /** OpenAI's model object plus Kiln's details. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Model(String id, String object, long created, @JsonProperty("owned_by") String ownedBy, Details kiln) {
    }

    /**
     * @param isDefault whether requests that name no model get this one
     * @param error     why the package cannot be used, when it is broken (the other fields are then absent)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Details(@JsonProperty("default") boolean isDefault, Sizes sizes, List<String> schedulers,
                          List<String> unets, List<String> decoders, Defaults defaults, @JsonProperty("max_steps") Integer maxSteps,
                          @JsonProperty("max_images") Integer maxImages, String error) {
    }

    /** Pixel sizes: the default side, the multiple every side must be, the largest side. */
    public record Sizes(@JsonProperty("default") String defaultSize, int multiple, int max) {
    }

    /** What a request that leaves these out gets. */
    public record Defaults(int steps, String scheduler, @JsonProperty("guidance_scale") double guidanceScale, String size,
                           String unet, String decoder) {
    }

    @GET
    @Operation(summary = "The models this gateway serves, with sizes, schedulers and defaults")
    @APIResponse(responseCode = "200", description = "OpenAI's list of models",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ModelList.class)))
    public ModelList list() {
        ModelCatalog catalog = stages.pipeline().catalog();
        return new ModelList("list", catalog.ids().stream().map(id -> describe(catalog, id)).toList());
    }

    @GET
    @Path("/{id}")
    @Operation(summary = "One model, with sizes, schedulers and defaults")
    @APIResponse(responseCode = "200", description = "The model",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Model.class)))
    @APIResponse(responseCode = "404", description = "No such model", content = @Content(schema = @Schema(implementation = ApiError.class)))
    public Model get(@PathParam("id") String id) {
        ModelCatalog catalog = stages.pipeline().catalog();
        catalog.resolve(id);
        return describe(catalog, id);
    }

    private static Model describe(ModelCatalog catalog, String id) {
        boolean isDefault = id.equals(catalog.defaultId());
        ModelPackage pkg;
        try {
            pkg = catalog.get(id);
        } catch (ModelLoadException e) {
            return new Model(id, "model", 0, "kiln", new Details(isDefault, null, null, null, null, null, null, null, e.getMessage()));
        }
        // the defaults a request really gets, worked out by the code that fills them in
        GenerationSettings d = GenerationSettings.resolve(GenerationRequest.builder("-").seed(0L).build(), pkg);
        ConditioningLayout layout = pkg.layout();
        List<String> schedulers = Schedulers.names();
        int maxSteps = Math.min(GenerationSettings.MAX_STEPS,
                pkg.scheduler(d.scheduler()).maxSteps());
        long created;
        try {
            created = Files.getLastModifiedTime(pkg.root().resolve("model_index.json")).toMillis() / 1000;
        } catch (IOException e) {
            created = 0;
        }
        return new Model(id, "model", created, "kiln", new Details(isDefault,
                new Sizes(d.width() + "x" + d.height(), layout.sizeMultiple(), layout.maxImageSize()), schedulers,
                pkg.roles().stream().map(UNetRole::id).toList(),
                pkg.componentPath(ModelPackage.CONSISTENCY_DECODER).isPresent()
                        ? List.of(DecodeSpec.VAE, DecodeSpec.CONSISTENCY) : List.of(DecodeSpec.VAE),
                new Defaults(d.steps(), d.scheduler(), d.guidance(), d.width() + "x" + d.height(), d.unet(), d.decoder()),
                maxSteps, GenerationSettings.MAX_COUNT, null));
    }
}
