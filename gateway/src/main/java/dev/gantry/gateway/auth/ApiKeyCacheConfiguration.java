package dev.gantry.gateway.auth;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.auth.ApiKeys;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The API key snapshot, only where requests are authenticated. Every key this process stores
 * (through the API or the bootstrap) goes into it at once; revocations through the API remove it.
 */
@ConditionalOnGatewayRole
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(AuthProperties.class)
public class ApiKeyCacheConfiguration {

  @Bean
  ApiKeyCache apiKeyCache(ApiKeyRepository repository, ApiKeys apiKeys, AuthProperties properties) {
    var cache = new ApiKeyCache(repository, properties.keyRefresh());
    apiKeys.onStored(cache::put);
    return cache;
  }

  @Bean
  FailedAuthLimiter failedAuthLimiter(AuthProperties properties) {
    return new FailedAuthLimiter(properties);
  }
}
