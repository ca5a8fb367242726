package dev.gantry.gateway;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaFieldAccess;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.Set;

/**
 * The gateway's packages are layered, as the workflows module is kept deterministic: the OpenAPI
 * document's configuration sits on top, the async job API on the data plane, the data plane on the
 * deployment port and authentication, and those on the shared web and error pieces. Inside the data
 * plane, the steps of a request do not know the state machine that runs them, and only a request's
 * owner writes what it learns about it.
 */
@AnalyzeClasses(
    packages = "dev.gantry.gateway",
    importOptions = ImportOption.DoNotIncludeTests.class)
class GatewayLayeringRulesTest {
  private static final String ROOT = "dev.gantry.gateway.";

  @ArchTest
  static final ArchRule layers =
      layeredArchitecture()
          .consideringOnlyDependenciesInAnyPackage("dev.gantry.gateway..")
          .layer("OpenApi")
          .definedBy(ROOT + "openapi..")
          .layer("Jobs")
          .definedBy(ROOT + "jobs..")
          .layer("ApiKeys")
          .definedBy(ROOT + "apikey..")
          .layer("Inference")
          .definedBy(ROOT + "inference..")
          .layer("Deployments")
          .definedBy(ROOT + "deployment..")
          .layer("Auth")
          .definedBy(ROOT + "auth..")
          .layer("Shared")
          .definedBy(ROOT + "web..", ROOT + "error..")
          .whereLayer("OpenApi")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("Jobs")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("ApiKeys")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("Inference")
          .mayOnlyBeAccessedByLayers("Jobs")
          .whereLayer("Deployments")
          .mayOnlyBeAccessedByLayers("Inference")
          .whereLayer("Auth")
          .mayOnlyBeAccessedByLayers("OpenApi", "Jobs", "ApiKeys", "Inference", "Deployments")
          .because("each package builds on the ones below it only (docs/architecture.md)");

  @ArchTest
  static final ArchRule noCycles =
      slices().matching("dev.gantry.gateway.(*)..").should().beFreeOfCycles();

  @ArchTest
  static final ArchRule oneUpstreamClient =
      noClasses()
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(
              "reactor.netty.http.client..", "org.springframework.web.reactive.function.client..")
          .because(
              "synchronous requests and async jobs call workers through one client, the pooled"
                  + " Netty connections of UpstreamCall");

  /** The steps a request goes through, each one class with one job. */
  private static final Set<String> STEPS =
      Set.of(
          "RequestChecks",
          "RequestBody",
          "Admission",
          "UpstreamCall",
          "RetryPolicy",
          "WorkerFailures",
          "AnswerWriter",
          "UsageSink",
          "ModelCheck");

  @ArchTest
  static final ArchRule stepsDoNotKnowTheStateMachine =
      noClasses()
          .that()
          .resideInAPackage(ROOT + "inference")
          .and()
          .haveNameMatching(".*\\.(" + String.join("|", STEPS) + ")(\\$.*)?")
          .should()
          .dependOnClassesThat()
          .haveNameMatching(".*\\.inference\\.(Exchange|InferenceConnection|BufferedCall)(\\$.*)?")
          .because("the order of the steps is decided in one place, the request's state machine");

  @ArchTest
  static final ArchRule onlyTheOwnerWritesWhatARequestLearns =
      classes()
          .that()
          .doNotHaveFullyQualifiedName(ROOT + "inference.Exchange")
          .and()
          .doNotHaveFullyQualifiedName(ROOT + "inference.BufferedCall")
          .and()
          .doNotHaveFullyQualifiedName(ROOT + "inference.Call")
          .should(notSetFieldsOf(ROOT + "inference.Call"))
          .because("a request's facts have one writer, the class that runs the request");

  private static ArchCondition<JavaClass> notSetFieldsOf(String owner) {
    return new ArchCondition<>("not set fields of " + owner) {
      @Override
      public void check(JavaClass item, ConditionEvents events) {
        for (JavaFieldAccess access : item.getFieldAccessesFromSelf()) {
          if (access.getAccessType() == JavaFieldAccess.AccessType.SET
              && access.getTargetOwner().getFullName().equals(owner)) {
            events.add(SimpleConditionEvent.violated(access, describe(access)));
          }
        }
      }
    };
  }

  private static String describe(JavaAccess<?> access) {
    return access.getDescription();
  }
}
