Feature: The evaluation context
  The provider reads the OpenFeature evaluation context as edgeflag's
  context: the targeting key is the context key (that individual targets and
  rollouts use), other fields are attributes of the same name, a nested
  structure is flattened with dots, and a list is an attribute that matches
  when any of its elements does. (OpenFeature specification: evaluation
  context, targeting key; edgeflag: docs/rule-language.md.)

  Background:
    Given the flags:
      """
      environments: [production]
      flags:
        beta:
          targets:
            "on": [user-7]
          rules:
            - id: german
              clauses: [{attribute: address.country, op: in, values: [DE]}]
              serve: "on"
            - id: groups
              clauses: [{attribute: groups, op: in, values: [testers]}]
              serve: "on"
            - id: big
              clauses: [{attribute: seats, op: gte, values: [10]}]
              serve: "on"
            - id: paying
              clauses: [{attribute: paying, op: in, values: [true]}]
              serve: "on"
          fallthrough: "off"
        rollout:
          fallthrough: {rollout: {"on": 100, "off": 0}}
      """
    And a provider serving the published flags

  Scenario: The targeting key is the key individual targets name
    When the boolean flag "beta" is evaluated with default false and context {"targetingKey": "user-7"}
    Then the value is true
    And the reason is TARGETING_MATCH
    And the flag metadata "reason" is "TARGET_MATCH"

  Scenario: Another targeting key is not targeted
    When the boolean flag "beta" is evaluated with default true and context {"targetingKey": "user-8"}
    Then the value is false
    And the flag metadata "reason" is "FALLTHROUGH"

  Scenario: A field "key" is the key when there is no targeting key
    When the boolean flag "beta" is evaluated with default false and context {"key": "user-7"}
    Then the value is true
    And the flag metadata "reason" is "TARGET_MATCH"

  Scenario: A nested structure is flattened with dots
    When the boolean flag "beta" is evaluated with default false and context {"targetingKey": "user-1", "address": {"country": "DE", "city": "Berlin"}}
    Then the value is true
    And the flag metadata "rule_id" is "german"

  Scenario: A list matches when one of its elements does
    When the boolean flag "beta" is evaluated with default false and context {"targetingKey": "user-1", "groups": ["staff", "testers"]}
    Then the value is true
    And the flag metadata "rule_id" is "groups"

  Scenario: A number is compared as a number
    When the boolean flag "beta" is evaluated with default false and context {"targetingKey": "user-1", "seats": 12}
    Then the value is true
    And the flag metadata "rule_id" is "big"

  Scenario: A boolean is an attribute
    When the boolean flag "beta" is evaluated with default false and context {"targetingKey": "user-1", "paying": true}
    Then the value is true
    And the flag metadata "rule_id" is "paying"

  Scenario: Without a key a rollout cannot place the context
    When the boolean flag "rollout" is evaluated with default true and context {"country": "DE"}
    Then the value is false
    And the reason is DEFAULT
    And the flag metadata "reason" is "DEFAULT"

  Scenario: With a key the same rollout is a SPLIT
    When the boolean flag "rollout" is evaluated with default false and context {"targetingKey": "user-1", "country": "DE"}
    Then the value is true
    And the reason is SPLIT
