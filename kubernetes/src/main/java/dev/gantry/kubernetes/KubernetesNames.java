package dev.gantry.kubernetes;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Names and labels of the objects Gantry creates. Names derive from the deployment and worker ids
 * alone, so a retried activity finds the object an earlier attempt created; the labels carry the
 * ids themselves (label values allow the {@code _} that names do not), for the sweeper and for
 * operators ({@code kubectl get pods -l gantry.dev/deployment-id=...}).
 */
public final class KubernetesNames {
  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String GANTRY = "gantry";
  public static final String DEPLOYMENT_ID = "gantry.dev/deployment-id";
  public static final String WORKER_ID = "gantry.dev/worker-id";
  public static final String COMPONENT = "gantry.dev/component";
  public static final String GPU_TYPE = "gantry.dev/gpu-type";

  /** Values of {@link #COMPONENT}. */
  public static final String WORKER = "worker";

  public static final String DOWNLOAD = "model-download";
  public static final String STORAGE = "storage";
  public static final String ENGINE_ENV = "engine-env";
  public static final String DOWNLOAD_ENV = "download-env";

  /** Annotations that let a Pod alone describe its engine, e.g. after a platform restart. */
  public static final String HEALTH_PATH = "gantry.dev/health-path";

  public static final String METRICS_PATH = "gantry.dev/metrics-path";
  public static final String ENGINE_PORT = "gantry.dev/engine-port";

  /** Where the deployment's claim is mounted in worker Pods and download Jobs. */
  public static final String STORAGE_MOUNT = "/gantry/storage";

  private static final Pattern DEPLOYMENT = Pattern.compile("[a-z]{2,8}_[a-z0-9]{6,40}");
  private static final Pattern WORKER_ID_PATTERN =
      Pattern.compile("[a-z]{2,8}_[a-z0-9]{6,40}-w[0-9]{1,9}");

  private KubernetesNames() {}

  /** The worker's Pod. */
  public static String podName(String workerId) {
    return "gantry-" + dns(check(WORKER_ID_PATTERN, workerId));
  }

  /** The deployment's storage claim. */
  public static String claimName(String deploymentId) {
    return "gantry-" + dns(check(DEPLOYMENT, deploymentId));
  }

  /** The Secret holding the deployment's env for its engines. */
  public static String engineSecretName(String deploymentId) {
    return "gantry-env-" + dns(check(DEPLOYMENT, deploymentId));
  }

  /** The Secret holding the Hub token and endpoint for the model download. */
  public static String downloadSecretName(String deploymentId) {
    return "gantry-dl-" + dns(check(DEPLOYMENT, deploymentId));
  }

  /** The deployment's model download Job. */
  public static String jobName(String deploymentId) {
    return "gantry-download-" + dns(check(DEPLOYMENT, deploymentId));
  }

  /** Labels of every object of a deployment. */
  public static Map<String, String> labels(String deploymentId, String component) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(MANAGED_BY, GANTRY);
    labels.put(DEPLOYMENT_ID, check(DEPLOYMENT, deploymentId));
    labels.put(COMPONENT, component);
    return labels;
  }

  /** Labels of a worker's Pod. */
  public static Map<String, String> workerLabels(String deploymentId, String workerId) {
    Map<String, String> labels = labels(deploymentId, WORKER);
    labels.put(WORKER_ID, check(WORKER_ID_PATTERN, workerId));
    return labels;
  }

  public static boolean isWorkerId(String workerId) {
    return workerId != null && WORKER_ID_PATTERN.matcher(workerId).matches();
  }

  /** {@code _} is the only character of an id a DNS label refuses; nothing else has it. */
  private static String dns(String id) {
    return id.replace('_', '-').toLowerCase(Locale.ROOT);
  }

  private static String check(Pattern pattern, String id) {
    if (id == null || !pattern.matcher(id).matches()) {
      // Ids come from us; a name built from anything else could address another object.
      throw new IllegalArgumentException("not a Gantry id: " + id);
    }
    return id;
  }
}
