package dev.kiln.gateway.jobs;

/** The job store could not be read or written (the database is down, say): the API answers 503. */
public class JobStoreException extends IllegalStateException {
    public JobStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
