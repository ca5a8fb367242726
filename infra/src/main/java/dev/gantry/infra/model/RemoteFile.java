package dev.gantry.infra.model;

import java.net.URI;
import java.nio.file.Path;

/**
 * One file to download: where from, how big and with which hash, where it ends up, and the partial
 * file it grows in until it is verified.
 *
 * @param name how logs and failure reasons name it (a repo path or a blob digest)
 * @param part a partial file next to nothing the engine reads; the name carries the expected hash
 *     so a part of another version is never resumed into this one
 * @param marker written after verification; null when the target's name is its hash (blobs)
 */
public record RemoteFile(
    String name, URI uri, long size, ContentDigest digest, Path target, Path part, Path marker) {}
