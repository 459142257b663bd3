package dev.kiln.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.kiln.gateway.jobs.JobError;
import dev.kiln.gateway.jobs.JobStoreException;
import dev.kiln.pipeline.error.DeadlineExceededException;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.error.ModelNotFoundException;
import dev.kiln.pipeline.error.OverloadedException;
import dev.kiln.pipeline.error.StageUnavailableException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Every error the API returns, in OpenAI's error shape with the HTTP status DESIGN.md assigns. */
public class ApiExceptionMappers {
    private static final Logger LOG = Logger.getLogger(ApiExceptionMappers.class);

    @ServerExceptionMapper
    public Response invalid(InvalidRequestException e) {
        return error(400, e.getMessage(), "invalid_request_error", e.param(), null);
    }

    @ServerExceptionMapper
    public Response unknownField(UnrecognizedPropertyException e) {
        return error(400, "unknown field '" + e.getPropertyName() + "'; known fields: "
                        + e.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", ")),
                "invalid_request_error", e.getPropertyName(), "unknown_parameter");
    }

    @ServerExceptionMapper
    public Response wrongType(MismatchedInputException e) {
        return badJson(e);
    }

    @ServerExceptionMapper
    public Response badJson(JsonMappingException e) {
        String field = e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."));
        String message = field.isEmpty() ? "the request body is not the JSON object expected: " + e.getOriginalMessage()
                : "field '" + field + "' has the wrong type: " + e.getOriginalMessage();
        return error(400, message, "invalid_request_error", field.isEmpty() ? null : field, null);
    }

    @ServerExceptionMapper
    public Response malformed(JsonProcessingException e) {
        return error(400, "the request body is not valid JSON: " + e.getOriginalMessage(), "invalid_request_error", null, null);
    }

    @ServerExceptionMapper
    public Response modelNotFound(ModelNotFoundException e) {
        return error(404, e.getMessage(), "invalid_request_error", "model", "model_not_found");
    }

    @ServerExceptionMapper
    public Response overloaded(OverloadedException e) {
        return Response.status(429).header("Retry-After", Long.toString(e.retryAfterSeconds()))
                .type(MediaType.APPLICATION_JSON)
                .entity(ApiError.of(e.getMessage(), "rate_limit_error", null, "overloaded")).build();
    }

    @ServerExceptionMapper
    public Response unavailable(StageUnavailableException e) {
        return Response.status(503).header("Retry-After", "5").type(MediaType.APPLICATION_JSON)
                .entity(ApiError.of(e.getMessage(), "server_error", null, "unavailable")).build();
    }

    @ServerExceptionMapper
    public Response expired(DeadlineExceededException e) {
        return error(504, e.getMessage(), "server_error", null, "timeout");
    }

    @ServerExceptionMapper
    public Response brokenModel(ModelLoadException e) {
        LOG.error("model failed", e);
        return error(500, e.getMessage(), "server_error", "model", "model_error");
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundException e) {
        return error(404, e.getMessage(), "invalid_request_error", null, "not_found");
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        // the JSON reader reports unparsable bodies as a bare 400 with the parser's error as the cause
        if (e.getCause() instanceof UnrecognizedPropertyException u) {
            return unknownField(u);
        }
        if (e.getCause() instanceof JsonMappingException m) {
            return badJson(m);
        }
        if (e.getCause() instanceof JsonProcessingException j) {
            return malformed(j);
        }
        int status = e.getResponse().getStatus();
        return error(status, e.getMessage(), status < 500 ? "invalid_request_error" : "server_error", null, null);
    }

    @ServerExceptionMapper
    public Response storeDown(JobStoreException e) {
        LOG.error("job store failed", e);
        return Response.status(503).header("Retry-After", "5").type(MediaType.APPLICATION_JSON)
                .entity(ApiError.of("the job store is unavailable; retry shortly", "server_error", null, "unavailable")).build();
    }

    /**
     * How a failure of a job is reported in the job: the status and error fields the synchronous API would
     * have answered the same failure with.
     */
    static JobError describe(RuntimeException e) {
        ApiExceptionMappers m = new ApiExceptionMappers();
        Response r;
        if (e instanceof InvalidRequestException x) {
            r = m.invalid(x);
        } else if (e instanceof ModelNotFoundException x) {
            r = m.modelNotFound(x);
        } else if (e instanceof OverloadedException x) {
            r = m.overloaded(x);
        } else if (e instanceof StageUnavailableException x) {
            r = m.unavailable(x);
        } else if (e instanceof ModelLoadException x) {
            r = m.brokenModel(x);
        } else if (e instanceof DeadlineExceededException x) {
            r = m.expired(x);
        } else {
            LOG.error("job failed", e);
            r = error(500, "the job failed: " + e, "server_error", null, "internal_error");
        }
        ApiError.Body b = ((ApiError) r.getEntity()).error();
        return new JobError(r.getStatus(), b.message(), b.type(), b.param(), b.code());
    }

    private static Response error(int status, String message, String type, String param, String code) {
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(ApiError.of(message, type, param, code)).build();
    }
}
