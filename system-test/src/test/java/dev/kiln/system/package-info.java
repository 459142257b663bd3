/**
 * Kiln as separate processes: {@link dev.kiln.system.ServiceProcess} starts a packaged service in its own JVM,
 * {@link dev.kiln.system.MultiProcessIT} drives the distributed gateway and its stages over loopback.
 */
package dev.kiln.system;
