package dev.gantry.app;

import java.util.Arrays;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The one runnable jar. {@code java -jar gantry.jar} starts the platform; {@code java -jar
 * gantry.jar sim --port N --model NAME} runs the bundled engine simulator on its own; {@code java
 * -jar gantry.jar download --deployment-id=... --framework=... --model=... --storage=DIR} puts a
 * model into a directory (what the kubernetes runtime's download Jobs run).
 */
@SpringBootApplication(scanBasePackages = "dev.gantry")
@org.springframework.scheduling.annotation.EnableScheduling
public class GantryApplication {

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("sim")) {
      dev.gantry.sim.SimMain.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    if (args.length > 0 && args[0].equals("download")) {
      // A model download Job of the kubernetes runtime: no web server, no Temporal.
      dev.gantry.kubernetes.DownloadCommand.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    SpringApplication.run(GantryApplication.class, args);
  }
}
