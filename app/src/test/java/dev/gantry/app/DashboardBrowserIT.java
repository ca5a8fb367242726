package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser (Debian's chromium through chromedriver) against the real jar:
 * sign in, a create refused with its errors shown next to their fields, a {@code sim} deployment
 * created through the form and watched to {@code running}, one chat through the API seen in Usage
 * and a worker's log line in Logs, an edit, a delete with its confirmation, an API key shown once
 * and revoked, sign out. Each page is saved to {@code target/screenshots/}. The browser's console
 * must stay free of errors other than the API's own refusals (so a Content-Security-Policy
 * violation fails the test).
 *
 * <p>Without chromium the test is skipped locally and fails in CI ({@code CI=true}), where {@code
 * .ci/run} installs it.
 */
class DashboardBrowserIT {
  // Debian's paths; the properties let a run point elsewhere (or check the missing-browser rule).
  private static final Path CHROMIUM =
      Path.of(System.getProperty("gantry.test.chromium", "/usr/bin/chromium"));
  private static final Path CHROMEDRIVER =
      Path.of(System.getProperty("gantry.test.chromedriver", "/usr/bin/chromedriver"));
  private static final Path SCREENSHOTS = Path.of("target/screenshots");
  private static final String SECRET = "hf_dashboard-secret-never-shown";

  private WebDriver driver;
  private WebDriverWait wait;
  private int shot;

  @Test
  @Timeout(150)
  void aUserManagesADeploymentFromTheDashboard() throws Exception {
    if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
      String missing =
          "the dashboard's browser test needs "
              + CHROMIUM
              + " and "
              + CHROMEDRIVER
              + " (apt-get install chromium chromium-driver; .ci/run installs them)";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(missing);
      }
      Assumptions.abort(missing);
    }
    Files.createDirectories(SCREENSHOTS);
    try (var platform = new PlatformProcess("dashboard").start()) {
      driver = browser();
      try {
        wait = settling(Duration.ofSeconds(20));
        String base = "http://127.0.0.1:" + platform.port;

        // Sign in: a wrong key is refused and not kept; the right one is kept for the tab only.
        driver.get(base + "/");
        visible(By.id("api-key")).sendKeys("gk_wrong");
        driver.findElement(By.cssSelector("#sign-in button[type=submit]")).click();
        wait.until(
            ExpectedConditions.textToBePresentInElementLocated(By.id("sign-in"), "not accepted"));
        screenshot("sign-in-refused");
        assertThat(storage("sessionStorage")).isZero();
        var keyInput = driver.findElement(By.id("api-key"));
        keyInput.clear();
        keyInput.sendKeys(platform.key, Keys.ENTER);
        wait.until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.id("main"), "No deployments yet"));
        assertThat(storage("sessionStorage")).isEqualTo(1);
        assertThat(storage("localStorage")).isZero();
        screenshot("deployments-empty");

        // Create: the API's field errors appear next to their fields and nothing is created.
        driver.findElement(By.linkText("New deployment")).click();
        visible(By.id("create-form"));
        input("name").sendKeys("dash-demo");
        input("model").sendKeys("tiny-llama");
        input("min_workers").sendKeys("2");
        input("max_workers").sendKeys("1");
        input("autoscaling.target_utilization").sendKeys("5");
        driver.findElement(By.id("add-env")).click();
        var envRow = driver.findElement(By.cssSelector("#env-rows .env-row"));
        var envName = envRow.findElement(By.cssSelector("input[type=text]"));
        envName.sendKeys("LD_PRELOAD");
        envRow.findElement(By.cssSelector("input[type=password]")).sendKeys(SECRET);
        driver.findElement(By.cssSelector("#create-form button[type=submit]")).click();
        wait.until(d -> !error("max_workers").isBlank());
        assertThat(error("max_workers")).isEqualTo("must be at least min_workers");
        assertThat(error("autoscaling.target_utilization")).isEqualTo("must be between 0.1 and 1");
        assertThat(input("max_workers").getAttribute("aria-invalid")).isEqualTo("true");
        assertThat(envRow.findElement(By.cssSelector(".field-error")).getText())
            .startsWith("LD_PRELOAD cannot be set");
        assertThat(driver.getPageSource()).doesNotContain(SECRET);
        assertThat(PlatformProcess.json(platform.get("/api/v1/deployments")).size()).isZero();
        screenshot("create-errors");

        input("min_workers").clear();
        input("min_workers").sendKeys("1");
        input("max_workers").clear();
        input("max_workers").sendKeys("2");
        input("autoscaling.target_utilization").clear();
        envName.clear();
        envName.sendKeys("HF_TOKEN");
        driver.findElement(By.cssSelector("#create-form button[type=submit]")).click();
        wait.until(ExpectedConditions.urlMatches("#/d/dep_[a-z0-9]+/overview$"));
        String url = driver.getCurrentUrl();
        String id = url.substring(url.indexOf("#/d/") + 4, url.lastIndexOf('/'));
        assertThat(url).doesNotContain(platform.key);

        // Overview: the status walk reaches running; the env value never reaches the page.
        settling(Duration.ofSeconds(60))
            .until(
                ExpectedConditions.textToBe(
                    By.cssSelector("ol.walk li[aria-current=step]"), "running"));
        assertThat(text(By.id("base-url"))).isEqualTo(base + "/openai/" + id + "/v1");
        assertThat(driver.getPageSource()).doesNotContain(SECRET).contains("HF_TOKEN");
        screenshot("overview-running");

        // One chat through the API, as a user's program would.
        var chat =
            platform.post(
                "/openai/" + id + "/v1/chat/completions",
                Map.of(
                    "model",
                    "tiny-llama",
                    "messages",
                    List.of(Map.of("role", "user", "content", "Hello dashboard"))));
        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);

        // Tabs follow the keyboard too: the arrow key moves from Overview to Workers.
        driver.findElement(By.id("tab-overview")).sendKeys(Keys.ARROW_RIGHT);
        wait.until(ExpectedConditions.attributeToBe(By.id("tab-workers"), "aria-selected", "true"));
        wait.until(d -> "tab-workers".equals(d.switchTo().activeElement().getAttribute("id")));
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("workers"), "healthy"));
        assertThat(text(By.id("workers"))).contains(id + "-w1");
        screenshot("workers");

        // Usage: the chat above is counted (the totals' first cell counts requests; the page
        // refreshes itself), and every chart is drawn.
        tab("usage");
        settling(Duration.ofSeconds(30))
            .until(
                d ->
                    d.findElements(By.cssSelector("#usage-totals tbody td")).stream()
                        .findFirst()
                        .map(td -> !td.getText().equals("0"))
                        .orElse(false));
        assertThat(driver.findElements(By.cssSelector("#usage .chart svg"))).hasSize(5);
        screenshot("usage");

        // Logs: the worker's log, followed live.
        tab("logs");
        settling(Duration.ofSeconds(30))
            .until(d -> !d.findElement(By.id("log-lines")).getText().isBlank());
        assertThat(
                new Select(driver.findElement(By.id("log-worker")))
                    .getFirstSelectedOption()
                    .getText())
            .startsWith(id + "-w1");
        screenshot("logs");

        // Settings: an edit through PATCH, then a delete that asks first.
        tab("settings");
        var name = input("name");
        wait.until(d -> "dash-demo".equals(name.getDomProperty("value")));
        name.clear();
        name.sendKeys("dash-edited");
        input("idle_timeout_seconds").clear();
        input("idle_timeout_seconds").sendKeys("120");
        driver.findElement(By.cssSelector("#settings-form button[type=submit]")).click();
        wait.until(
            ExpectedConditions.textToBePresentInElementLocated(By.id("settings-form"), "Saved."));
        var edited = PlatformProcess.json(platform.get("/api/v1/deployments/" + id));
        assertThat(edited.path("name").asText()).isEqualTo("dash-edited");
        assertThat(edited.path("idle_timeout_seconds").asInt()).isEqualTo(120);
        assertThat(text(By.tagName("h1"))).startsWith("dash-edited");
        screenshot("settings-saved");

        driver.findElement(By.id("delete")).click();
        var confirm = visible(By.id("delete-confirmed"));
        assertThat(text(By.id("delete-confirm"))).contains("Delete “dash-edited”?");
        assertThat(
                PlatformProcess.json(platform.get("/api/v1/deployments/" + id))
                    .path("status")
                    .asText())
            .isEqualTo("running");
        screenshot("delete-confirm");
        confirm.click();
        settling(Duration.ofSeconds(30))
            .until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("h1"), "deleted"));
        screenshot("overview-deleted");

        driver.findElement(By.linkText("Deployments")).click();
        wait.until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.id("deployments"), "dash-edited"));
        screenshot("deployments");

        // API keys: a new key is shown once, then revoked after a confirmation.
        driver.findElement(By.linkText("API keys")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("keys"), "default"));
        input("tenant").sendKeys("acme");
        driver.findElement(By.cssSelector("#key-form input[name=name]")).sendKeys("ci-dashboard");
        driver.findElement(By.cssSelector("#key-form button[type=submit]")).click();
        var shown = visible(By.id("new-key-value"));
        String newKey = shown.getDomProperty("value");
        assertThat(newKey).startsWith("gk_");
        assertThat(platform.get("/api/v1/deployments", newKey).statusCode()).isEqualTo(200);
        wait.until(
            ExpectedConditions.textToBePresentInElementLocated(By.id("keys"), "ci-dashboard"));
        screenshot("api-keys");
        var row =
            driver.findElement(By.xpath("//table[@id='keys']//tr[td[1][text()='ci-dashboard']]"));
        row.findElement(By.xpath(".//button[text()='Revoke…']")).click();
        row.findElement(By.xpath(".//button[starts-with(text(),'Revoke gk_')]")).click();
        wait.until(d -> !d.findElement(By.id("keys")).getText().contains("ci-dashboard"));
        assertThat(platform.get("/api/v1/deployments", newKey).statusCode()).isEqualTo(401);

        // Sign out forgets the key.
        driver.findElement(By.id("sign-out")).click();
        visible(By.id("api-key"));
        assertThat(storage("sessionStorage")).isZero();
        screenshot("signed-out");

        assertThat(consoleErrors()).as("browser console errors").isEmpty();
      } catch (Exception | AssertionError e) {
        screenshot("failure");
        consoleErrors().forEach(m -> System.out.println("browser console: " + m));
        throw e;
      } finally {
        driver.quit();
      }
    }
  }

  /**
   * A wait that retries a check which found an element the page re-rendered in the meantime (the
   * lists refresh themselves every few seconds): that race says nothing about the page.
   */
  private WebDriverWait settling(Duration timeout) {
    var w = new WebDriverWait(driver, timeout);
    w.ignoring(StaleElementReferenceException.class);
    return w;
  }

  private static WebDriver browser() {
    var options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox", // the tests run as root in CI, where chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1366,768",
        "--lang=en-US");
    var logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    var service =
        new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).build();
    return new ChromeDriver(service, options);
  }

  private WebElement visible(By by) {
    return wait.until(ExpectedConditions.visibilityOfElementLocated(by));
  }

  private WebElement input(String name) {
    return visible(By.cssSelector("main [name='" + name + "']"));
  }

  private String error(String name) {
    return driver.findElement(By.id(input(name).getAttribute("id") + "-error")).getText();
  }

  private String text(By by) {
    return driver.findElement(by).getText();
  }

  private void tab(String name) {
    driver.findElement(By.id("tab-" + name)).click();
    wait.until(ExpectedConditions.attributeToBe(By.id("tab-" + name), "aria-selected", "true"));
  }

  private long storage(String which) {
    return (Long) ((JavascriptExecutor) driver).executeScript("return " + which + ".length;");
  }

  private void screenshot(String page) throws Exception {
    byte[] png = ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES);
    Files.write(SCREENSHOTS.resolve(String.format("%02d-%s.png", ++shot, page)), png);
  }

  /**
   * Console errors other than the browser's note on a refused API call (the 401 of the wrong key,
   * the 400 of the invalid create, a 404 of a route this server lacks), which the page shows.
   */
  private List<String> consoleErrors() {
    return driver.manage().logs().get(LogType.BROWSER).getAll().stream()
        .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
        .map(LogEntry::getMessage)
        .filter(
            m ->
                !m.matches(
                    "(?s).*/api/v1/.* Failed to load resource: the server responded with a status"
                        + " of (400|401|404) .*"))
        .toList();
  }
}
