package dev.gantry.app;

import dev.gantry.infra.auth.BootstrapKey;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.stereotype.Component;

/** Runs once the database is migrated and before the HTTP port opens. */
@Component
class StartupTasks implements SmartInitializingSingleton {
  private final BootstrapKey bootstrapKey;

  StartupTasks(BootstrapKey bootstrapKey) {
    this.bootstrapKey = bootstrapKey;
  }

  @Override
  public void afterSingletonsInstantiated() {
    bootstrapKey.ensure();
  }
}
