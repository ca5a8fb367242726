package dev.gantry.gateway.error;

/** One invalid field in a request, as listed in a validation problem's {@code errors}. */
public record FieldError(String field, String message) {}
