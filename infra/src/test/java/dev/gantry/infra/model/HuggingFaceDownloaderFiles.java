package dev.gantry.infra.model;

/** Names the tests share with the downloader. */
final class HuggingFaceDownloaderFiles {
  static final String INDEX = "model.safetensors.index.json";

  private HuggingFaceDownloaderFiles() {}
}
