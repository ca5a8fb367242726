package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.infra.config.GantryProperties;
import io.netty.buffer.Unpooled;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;

class BodyBudgetTest {
  final BodyBudget budget = new BodyBudget(1000, 600, 400);
  final AtomicLong depA = new AtomicLong();
  final AtomicLong depB = new AtomicLong();
  final AtomicLong depC = new AtomicLong();

  @Test
  void aDeploymentCannotHoldMoreThanItsShare() {
    var first = budget.hold("acme", depA);
    var second = budget.hold("acme", depA);
    assertThat(first.reserve(300)).isTrue();
    assertThat(second.reserve(101)).as("past the deployment's 400").isFalse();
    assertThat(second.reserve(100)).isTrue();
    assertThat(depA.get()).isEqualTo(400);
    assertThat(budget.heldBy("acme")).isEqualTo(400);
    assertThat(budget.held()).isEqualTo(400);
  }

  @Test
  void aTenantCannotHoldMoreThanItsShareAcrossItsDeployments() {
    assertThat(budget.hold("acme", depA).reserve(400)).isTrue();
    var onB = budget.hold("acme", depB);
    assertThat(onB.reserve(201)).as("past the tenant's 600").isFalse();
    assertThat(depB.get()).as("a refused reserve takes nothing").isZero();
    assertThat(budget.heldBy("acme")).isEqualTo(400);
    assertThat(onB.reserve(200)).isTrue();
  }

  @Test
  void allTenantsTogetherCannotPassTheTotalAndOthersKeepTheirRoom() {
    assertThat(budget.hold("acme", depA).reserve(400)).isTrue();
    assertThat(budget.hold("acme", depB).reserve(200)).isTrue();
    assertThat(budget.hold("acme", depB).reserve(1)).as("acme is at its bound").isFalse();
    var globex = budget.hold("globex", depC);
    assertThat(globex.reserve(400)).as("another tenant still has room").isTrue();
    assertThat(budget.hold("initech", new AtomicLong()).reserve(1)).as("the total").isFalse();
    assertThat(budget.held()).isEqualTo(1000);
  }

  @Test
  void releasingGivesEverythingBackOnceWhateverTheOrder() {
    var hold = budget.hold("acme", depA);
    assertThat(hold.reserve(250)).isTrue();
    hold.release(50);
    assertThat(hold.held()).isEqualTo(200);
    hold.releaseAll();
    hold.releaseAll();
    hold.release(10);
    assertThat(depA.get()).isZero();
    assertThat(budget.heldBy("acme")).isZero();
    assertThat(budget.held()).isZero();
  }

  @Test
  void aBodyBufferCountsItsCapacityAndRefusesPastTheBudgetWith429() {
    var hold = new BodyBudget(10_000, 10_000, 1000).hold("acme", depA);
    var buffer = new BodyBuffer(-1, 10_000, limit -> InferenceException.tooLarge(), hold);
    assertThat(hold.held()).as("the first array").isEqualTo(256);
    buffer.append(Unpooled.wrappedBuffer(new byte[300]));
    assertThat(hold.held()).as("grown to twice its size").isEqualTo(512);
    assertThatThrownBy(() -> buffer.append(Unpooled.wrappedBuffer(new byte[300])))
        .as("growing to 1024 passes the deployment's 1000")
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.status()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS));
    assertThat(buffer.bytes()).hasSize(300);
    assertThat(hold.held()).as("trimmed to the body").isEqualTo(300);
    assertThatThrownBy(
            () ->
                new BodyBuffer(
                    401, 10_000, limit -> InferenceException.tooLarge(), budget.hold("a", depB)))
        .as("a declared body past the budget is refused before its array exists")
        .isInstanceOfSatisfying(
            InferenceException.class,
            e -> assertThat(e.status()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS));
    assertThat(depB.get()).isZero();
  }

  @Test
  void unsetBoundsAreDerivedFromTheHeapAndNeverBelowTheLargestBody() {
    var derived = BodyBudget.of(settings(8 << 20, 0, 0, 0), 1L << 30);
    assertThat(derived.totalLimit()).isEqualTo(256L << 20);
    assertThat(derived.tenantLimit()).isEqualTo(128L << 20);
    assertThat(derived.deploymentLimit()).isEqualTo(64L << 20);
    var small = BodyBudget.of(settings(8 << 20, 0, 0, 0), 64L << 20);
    assertThat(small.deploymentLimit()).isEqualTo(8L << 20);
    assertThat(small.tenantLimit()).isEqualTo(8L << 20);
    assertThat(small.totalLimit()).isEqualTo(16L << 20);
    var set = BodyBudget.of(settings(1000, 5000, 3000, 2000), 1L << 30);
    assertThat(set.totalLimit()).isEqualTo(5000);
    assertThat(set.tenantLimit()).isEqualTo(3000);
    assertThat(set.deploymentLimit()).isEqualTo(2000);
    assertThatThrownBy(() -> BodyBudget.of(settings(1000, 0, 0, 999), 1L << 30))
        .hasMessageContaining("max-body-bytes");
    assertThatThrownBy(() -> BodyBudget.of(settings(1000, 1500, 3000, 2000), 1L << 30))
        .hasMessageContaining("total >= per tenant");
  }

  static GantryProperties.Gateway settings(
      long maxBody, long total, long perTenant, long perDeployment) {
    return new GantryProperties.Gateway(
        maxBody,
        256,
        Duration.ofMillis(500),
        Duration.ofMillis(250),
        Duration.ofSeconds(2),
        Duration.ofMinutes(10),
        Duration.ofSeconds(5),
        total,
        perTenant,
        perDeployment,
        Duration.ofSeconds(30),
        Duration.ofSeconds(60),
        Duration.ofSeconds(10),
        Duration.ofSeconds(60),
        Duration.ofMinutes(5),
        Duration.ofSeconds(10));
  }
}
