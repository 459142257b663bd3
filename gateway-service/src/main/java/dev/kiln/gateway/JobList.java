package dev.kiln.gateway;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * A page of jobs, newest first, in OpenAI's list shape. The next page is {@code GET /v1/jobs?before=<last_id>}
 * while {@code has_more} is true.
 */
public record JobList(String object, List<JobView> data,
                      @JsonProperty("last_id") String lastId,
                      @JsonProperty("has_more") boolean hasMore) {

    static JobList of(List<JobView> page, boolean hasMore) {
        return new JobList("list", page, page.isEmpty() ? null : page.get(page.size() - 1).id(), hasMore);
    }
}
