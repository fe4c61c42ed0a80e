Feature: Provider status and events
  A provider is NOT_READY until it can resolve flags and READY once it can;
  evaluating while it is not ready is the error PROVIDER_NOT_READY with the
  default value. A provider whose configuration has lapsed but that still
  serves it is STALE. A provider signals its state changes as events:
  PROVIDER_READY, PROVIDER_CONFIGURATION_CHANGED when the flags it resolves
  change, PROVIDER_STALE. (OpenFeature specification: provider status,
  initialization, events.)
  The scenarios tagged @events need an SDK with an event API: open-feature 0.3
  (the Rust SDK) has none, so only the JavaScript runner runs them.

  Background:
    Given the flags:
      """
      environments: [production]
      flags:
        kill:
          enabled: false
      """

  Scenario: Not ready before the first ruleset, with the default value
    Given a provider whose origin has published nothing yet
    Then the provider status is NOT_READY
    When the boolean flag "kill" is evaluated with default true and context {"targetingKey": "user-1"}
    Then the value is true
    And the reason is ERROR
    And the error code is PROVIDER_NOT_READY

  Scenario: Ready once the first ruleset arrives
    Given a provider whose origin has published nothing yet
    When the flags are published
    Then within 10 seconds the provider status is READY
    When the boolean flag "kill" is evaluated with default true and context {"targetingKey": "user-1"}
    Then the value is false
    And the reason is DISABLED
    And there is no error code

  @events
  Scenario: PROVIDER_READY once the first ruleset arrives
    Given a provider whose origin has published nothing yet
    Then the provider has not emitted PROVIDER_READY
    When the flags are published
    Then within 10 seconds the provider has emitted PROVIDER_READY
    And the provider status is READY

  Scenario: A new ruleset is resolved from the next evaluation on
    Given a provider serving the published flags
    When the flags are changed to:
      """
      environments: [production]
      flags:
        kill:
          enabled: true
      """
    Then within 10 seconds the boolean flag "kill" evaluates to true
    And the variant is "on"
    And the reason is DEFAULT
    And the flag metadata "version" is 2
    And the provider status is READY

  @events
  Scenario: PROVIDER_CONFIGURATION_CHANGED for a new ruleset
    Given a provider serving the published flags
    Then the provider has not emitted PROVIDER_CONFIGURATION_CHANGED
    When the flags are changed to:
      """
      environments: [production]
      flags:
        kill:
          enabled: true
      """
    Then within 10 seconds the provider has emitted PROVIDER_CONFIGURATION_CHANGED
    And the boolean flag "kill" evaluates to true

  Scenario: STALE once the ruleset expires, and still served
    Given a provider serving the flags published signed and expiring after 6 seconds
    Then the provider status is READY
    When the boolean flag "kill" is evaluated with default true and context {"targetingKey": "user-1"}
    Then the value is false
    And the flag metadata has no "stale"
    Then within 20 seconds the provider status is STALE
    When the boolean flag "kill" is evaluated with default true and context {"targetingKey": "user-1"}
    Then the value is false
    And the reason is DISABLED
    And there is no error code
    And the flag metadata "stale" is true

  @events
  Scenario: PROVIDER_STALE once the ruleset expires
    Given a provider serving the flags published signed and expiring after 6 seconds
    Then the provider has not emitted PROVIDER_STALE
    Then within 20 seconds the provider has emitted PROVIDER_STALE
    And the provider status is STALE
