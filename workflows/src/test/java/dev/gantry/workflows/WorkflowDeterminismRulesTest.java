package dev.gantry.workflows;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/** Workflow code must replay identically: no Spring, JDBC, fabric8, Reactor, I/O or wall clock. */
@AnalyzeClasses(
    packages = "dev.gantry.workflows",
    importOptions = ImportOption.DoNotIncludeTests.class)
class WorkflowDeterminismRulesTest {

  @ArchTest
  static final ArchRule noFrameworksOrIo =
      noClasses()
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(
              "org.springframework..",
              "java.sql..",
              "javax.sql..",
              "io.fabric8..",
              "reactor..",
              "java.io..",
              "java.nio..",
              "java.net..",
              "java.net.http..",
              "dev.gantry.infra..",
              "dev.gantry.activities..",
              "dev.gantry.gateway..")
          .because("workflow code must be deterministic and free of side effects");

  @ArchTest
  static final ArchRule noWallClockThreadsOrRandomness =
      noClasses()
          .should()
          .callMethod(System.class, "currentTimeMillis")
          .orShould()
          .callMethod(System.class, "nanoTime")
          .orShould()
          .callMethod(Thread.class, "sleep", long.class)
          .orShould()
          .callMethod(java.time.Instant.class, "now")
          .orShould()
          .callMethod(java.util.UUID.class, "randomUUID")
          .orShould()
          .callConstructor(java.util.Random.class)
          .orShould()
          .callConstructor(Thread.class, Runnable.class)
          .orShould()
          .dependOnClassesThat()
          .resideInAPackage("java.util.concurrent..")
          .because("workflows use Workflow.currentTimeMillis, Workflow.sleep, Workflow.newRandom");
}
