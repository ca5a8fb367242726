package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The install manifests under deploy/kubernetes, parsed as Kubernetes objects, are hardened. */
class InstallManifestsTest {
  static final Path DIR = Path.of("..", "deploy", "kubernetes");
  static KubernetesClient parser;
  static List<HasMetadata> objects;

  @BeforeAll
  static void load() throws Exception {
    // Only parses: it never connects.
    parser = new KubernetesClientBuilder().build();
    objects = new ArrayList<>();
    for (String resource : resources()) {
      try (InputStream in = Files.newInputStream(DIR.resolve(resource))) {
        objects.addAll(parser.load(in).items());
      }
    }
  }

  /** The files kustomization.yaml installs. */
  @SuppressWarnings("unchecked")
  static List<String> resources() throws Exception {
    try (InputStream in = Files.newInputStream(DIR.resolve("kustomization.yaml"))) {
      Map<String, Object> kustomization = Serialization.unmarshal(in, Map.class);
      return (List<String>) kustomization.get("resources");
    }
  }

  @AfterAll
  static void close() {
    parser.close();
  }

  static <T extends HasMetadata> List<T> all(Class<T> kind) {
    return objects.stream().filter(kind::isInstance).map(kind::cast).toList();
  }

  static <T extends HasMetadata> T named(Class<T> kind, String name) {
    return all(kind).stream()
        .filter(o -> o.getMetadata().getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind.getSimpleName() + " " + name));
  }

  @Test
  void everyFileOfTheDirectoryIsInstalled() throws Exception {
    Set<String> listed = new TreeSet<>(resources());
    try (var files = Files.list(DIR)) {
      Set<String> yaml =
          files
              .map(p -> p.getFileName().toString())
              .filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml"))
              .collect(Collectors.toCollection(TreeSet::new));
      assertThat(listed).isEqualTo(yaml);
    }
  }

  @Test
  void bothNamespacesEnforceTheRestrictedPodSecurityStandard() {
    assertThat(all(Namespace.class))
        .extracting(n -> n.getMetadata().getName())
        .containsExactlyInAnyOrder("gantry", "gantry-workers");
    for (Namespace ns : all(Namespace.class)) {
      assertThat(ns.getMetadata().getLabels())
          .containsEntry("pod-security.kubernetes.io/enforce", "restricted");
    }
  }

  @Test
  void theRuntimesRoleGrantsExactlyWhatItUsesInTheWorkersNamespace() {
    Role role = named(Role.class, "gantry-runtime");
    assertThat(role.getMetadata().getNamespace()).isEqualTo("gantry-workers");
    Map<String, Set<String>> granted = new TreeMap<>();
    for (PolicyRule rule : role.getRules()) {
      assertThat(rule.getResourceNames()).isNullOrEmpty();
      for (String group : rule.getApiGroups()) {
        for (String resource : rule.getResources()) {
          granted.put(group + "/" + resource, new TreeSet<>(rule.getVerbs()));
        }
      }
    }
    assertThat(granted)
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "/pods", Set.of("create", "get", "list", "watch", "delete"),
                "/pods/log", Set.of("get"),
                "batch/jobs", Set.of("create", "get", "list", "watch", "delete"),
                "/persistentvolumeclaims", Set.of("create", "get", "list", "delete"),
                "/secrets", Set.of("create", "get", "list", "update", "delete")));
    assertThat(objects).noneMatch(o -> o.getKind().startsWith("Cluster"));

    RoleBinding binding = named(RoleBinding.class, "gantry-runtime");
    assertThat(binding.getMetadata().getNamespace()).isEqualTo("gantry-workers");
    assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
    assertThat(binding.getSubjects())
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.getName()).isEqualTo("gantry-orchestrator");
              assertThat(s.getNamespace()).isEqualTo("gantry");
            });
  }

  @Test
  void gatewaysAndOrchestratorsRunHardenedInTheirRoles() {
    Deployment gateway = named(Deployment.class, "gantry-gateway");
    Deployment orchestrator = named(Deployment.class, "gantry-orchestrator");
    assertThat(env(gateway)).containsEntry("GANTRY_ROLES", "gateway");
    assertThat(env(orchestrator)).containsEntry("GANTRY_ROLES", "orchestrator");
    assertThat(gateway.getSpec().getTemplate().getSpec().getAutomountServiceAccountToken())
        .isFalse();
    assertThat(named(ServiceAccount.class, "gantry-gateway").getAutomountServiceAccountToken())
        .isFalse();
    assertThat(orchestrator.getSpec().getTemplate().getSpec().getServiceAccountName())
        .isEqualTo("gantry-orchestrator");

    for (Deployment deployment : all(Deployment.class)) {
      PodSpec pod = deployment.getSpec().getTemplate().getSpec();
      assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(pod.getSecurityContext().getRunAsUser()).isPositive();
      assertThat(pod.getSecurityContext().getSeccompProfile().getType())
          .isEqualTo("RuntimeDefault");
      for (Container c : pod.getContainers()) {
        var security = c.getSecurityContext();
        assertThat(security.getAllowPrivilegeEscalation()).isFalse();
        assertThat(security.getRunAsNonRoot()).isTrue();
        assertThat(security.getReadOnlyRootFilesystem()).isTrue();
        assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(security.getPrivileged()).isNotEqualTo(Boolean.TRUE);
        assertThat(c.getResources().getLimits()).containsKeys("memory", "ephemeral-storage");
        // Credentials come from a Secret, never as a value in the manifest.
        assertThat(c.getEnv())
            .filteredOn(e -> e.getName().contains("PASSWORD") || e.getName().contains("KEY"))
            .allSatisfy(e -> assertThat(e.getValueFrom().getSecretKeyRef()).isNotNull());
      }
    }
    ConfigMap config = named(ConfigMap.class, "gantry");
    assertThat(config.getData())
        .containsEntry("GANTRY_RUNTIME_TYPE", "kubernetes")
        .containsEntry("GANTRY_RUNTIME_KUBERNETES_NAMESPACE", "gantry-workers")
        .doesNotContainKeys("SPRING_DATASOURCE_PASSWORD", "GANTRY_SECRETS_KEY", "GANTRY_API_KEY");
  }

  static Map<String, String> env(Deployment deployment) {
    Map<String, String> env = new TreeMap<>();
    for (var e : deployment.getSpec().getTemplate().getSpec().getContainers().getFirst().getEnv()) {
      if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      }
    }
    return env;
  }

  @Test
  void workerPodsAreDeniedByDefaultAndReachedOnlyFromGantry() {
    NetworkPolicy deny = named(NetworkPolicy.class, "default-deny");
    assertThat(deny.getMetadata().getNamespace()).isEqualTo("gantry-workers");
    assertThat(deny.getSpec().getPodSelector().getMatchLabels()).isNullOrEmpty();
    assertThat(deny.getSpec().getPodSelector().getMatchExpressions()).isNullOrEmpty();
    assertThat(deny.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
    assertThat(deny.getSpec().getIngress()).isNullOrEmpty();
    assertThat(deny.getSpec().getEgress()).isNullOrEmpty();

    NetworkPolicy workers = named(NetworkPolicy.class, "workers-from-gantry");
    assertThat(workers.getSpec().getPodSelector().getMatchLabels())
        .containsEntry("gantry.dev/component", "worker")
        .containsEntry("app.kubernetes.io/managed-by", "gantry");
    assertThat(workers.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
    assertThat(workers.getSpec().getEgress()).isNullOrEmpty();
    assertThat(workers.getSpec().getIngress())
        .singleElement()
        .satisfies(
            rule -> {
              assertThat(rule.getPorts())
                  .singleElement()
                  .satisfies(p -> assertThat(p.getPort().getIntVal()).isEqualTo(8000));
              assertThat(rule.getFrom())
                  .singleElement()
                  .satisfies(
                      peer -> {
                        assertThat(peer.getIpBlock()).isNull();
                        assertThat(peer.getNamespaceSelector().getMatchLabels())
                            .containsExactly(Map.entry("kubernetes.io/metadata.name", "gantry"));
                        assertThat(peer.getPodSelector().getMatchExpressions())
                            .singleElement()
                            .satisfies(
                                e ->
                                    assertThat(e.getValues())
                                        .containsExactlyInAnyOrder("gateway", "orchestrator"));
                      });
            });
  }

  @Test
  void noPodGantryInstallsOrCreatesCanReachTheCloudMetadataAddress() {
    for (NetworkPolicy policy : all(NetworkPolicy.class)) {
      if (policy.getSpec().getEgress() == null) {
        continue;
      }
      for (var rule : policy.getSpec().getEgress()) {
        assertThat(rule.getTo()).as("an egress rule to anywhere").isNotEmpty();
        for (NetworkPolicyPeer peer : rule.getTo()) {
          if (peer.getIpBlock() != null
              && contains(peer.getIpBlock().getCidr(), "169.254.169.254")) {
            assertThat(peer.getIpBlock().getExcept())
                .as(policy.getMetadata().getName())
                .contains("169.254.169.254/32");
          }
        }
      }
    }
    assertThat(
            named(NetworkPolicy.class, "downloads-egress")
                .getSpec()
                .getPodSelector()
                .getMatchLabels())
        .containsEntry("gantry.dev/component", "model-download");
  }

  /** Whether an IPv4 CIDR holds the address. */
  static boolean contains(String cidr, String address) {
    String[] parts = cidr.split("/");
    int bits = Integer.parseInt(parts[1]);
    long mask = bits == 0 ? 0 : 0xFFFFFFFFL << (32 - bits) & 0xFFFFFFFFL;
    return (ipv4(parts[0]) & mask) == (ipv4(address) & mask);
  }

  static long ipv4(String address) {
    long value = 0;
    for (String octet : address.split("\\.")) {
      value = value << 8 | Long.parseLong(octet);
    }
    return value;
  }

  @Test
  void theImageRunsAsANonRootUser() throws Exception {
    List<String> lines = Files.readAllLines(DIR.resolve("Dockerfile"));
    List<String> users =
        lines.stream().map(String::strip).filter(l -> l.startsWith("USER ")).toList();
    assertThat(users).isNotEmpty();
    String user = users.getLast().substring("USER ".length()).split(":")[0];
    assertThat(Integer.parseInt(user)).isPositive();
    // The paths the runtime's defaults use: the sim command and the download Jobs.
    assertThat(String.join("\n", lines))
        .contains("/opt/gantry/gantry.jar")
        .contains("ENTRYPOINT [\"java\", \"-jar\", \"/opt/gantry/gantry.jar\"]");
  }
}
