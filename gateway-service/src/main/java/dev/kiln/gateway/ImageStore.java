package dev.kiln.gateway;

import jakarta.enterprise.context.ApplicationScoped;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Pictures answered by URL, kept in memory for embedded mode: the newest {@code kiln.images.keep}
 * stay retrievable, older ones are dropped (an artifact store takes this role in distributed mode).
 */
@ApplicationScoped
public class ImageStore {
    @ConfigProperty(name = "kiln.images.keep")
    int keep;

    private final Map<String, byte[]> images = new LinkedHashMap<>();

    /** Stores a PNG and returns its id. */
    public synchronized String put(byte[] png) {
        String id = UUID.randomUUID().toString();
        images.put(id, png);
        while (images.size() > keep) {
            images.remove(images.keySet().iterator().next());
        }
        return id;
    }

    /** The PNG with this id, or null when it is unknown or was dropped. */
    public synchronized byte[] get(String id) {
        return images.get(id);
    }
}
