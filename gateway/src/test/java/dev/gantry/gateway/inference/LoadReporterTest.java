package dev.gantry.gateway.inference;

import static dev.gantry.gateway.inference.LoadReporter.demandDue;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When the gateway tells the autoscaler about demand. */
class LoadReporterTest {
  private static final long INTERVAL = 250;

  @Test
  void aChangeInTheWorkersNeededIsReportedUpAndDown() {
    assertThat(demandDue(3, 2, false, false, INTERVAL, INTERVAL)).isTrue();
    // Down to zero too: the autoscaler's window starts from the last peak it saw.
    assertThat(demandDue(0, 3, false, false, INTERVAL, INTERVAL)).isTrue();
  }

  @Test
  void changesAreCoalescedToTheInterval() {
    assertThat(demandDue(3, 2, false, false, INTERVAL - 1, INTERVAL)).isFalse();
  }

  @Test
  void aRiseInTheWorkersNeededAsRequestsStartWaitingIsReportedAtOnce() {
    assertThat(demandDue(3, 2, true, true, 0, INTERVAL)).isTrue();
    // Not a fall, nor the same need again: those wait for the interval.
    assertThat(demandDue(1, 2, true, true, INTERVAL - 1, INTERVAL)).isFalse();
    assertThat(demandDue(2, 2, true, true, INTERVAL - 1, INTERVAL)).isFalse();
  }

  @Test
  void steadyDemandWithoutAQueueSendsNothing() {
    assertThat(demandDue(4, 4, false, false, 3_600_000, INTERVAL)).isFalse();
    assertThat(demandDue(0, 0, false, true, 3_600_000, INTERVAL)).isFalse();
  }

  @Test
  void waitingRequestsAreReportedEverySecondWithHowLongTheyWaited() {
    assertThat(demandDue(2, 2, true, false, 999, INTERVAL)).isFalse();
    assertThat(demandDue(2, 2, true, false, 1_000, INTERVAL)).isTrue();
    // The first waiting request is reported at the interval, not a second later.
    assertThat(demandDue(2, 2, true, true, INTERVAL, INTERVAL)).isTrue();
  }
}
