Feature: Resolution of every flag type
  A provider offers one resolution per type of the evaluation API: boolean,
  string, number (an integer and a float in typed languages) and structure.
  In normal execution it returns the resolved value, the name of the variant
  that holds it and the reason it was chosen, sets no error code, and may
  attach flag metadata whose values are booleans, strings or numbers.
  (OpenFeature specification: provider metadata and flag value resolution.)

  Background:
    Given the flags:
      """
      environments: [production]
      flags:
        checkout:
          rules:
            - id: staff
              clauses: [{attribute: email, op: ends_with, values: ["@edgeflag.dev"]}]
              serve: "on"
          fallthrough: "off"
        greeting:
          variations: {en: hello, de: hallo}
          off_variation: en
          rules:
            - id: german
              clauses: [{attribute: country, op: in, values: [DE, AT]}]
              serve: de
          fallthrough: en
        max-items:
          variations: {few: 10, many: 250}
          off_variation: few
          rules:
            - clauses: [{attribute: plan, op: in, values: [pro]}]
              serve: many
          fallthrough: few
        ratio:
          variations: {low: 0.25, high: 0.75}
          off_variation: low
          fallthrough: high
        layout:
          variations:
            grid: {columns: 3, dense: false, sections: [news, sports], spacing: 1.5, limits: {daily: 1000}}
            list: {columns: 1, dense: true, sections: [], spacing: 0.5, limits: {daily: 50}}
          off_variation: list
          rules:
            - id: wide
              clauses: [{attribute: screen, op: gte, values: [1200]}]
              serve: grid
          fallthrough: list
      """
    And a provider serving the published flags

  Scenario: The provider names itself
    Then the provider's name is "edgeflag"

  Scenario: A boolean flag matched by a rule
    When the boolean flag "checkout" is evaluated with default false and context {"targetingKey": "user-1", "email": "ana@edgeflag.dev"}
    Then the value is true
    And the variant is "on"
    And the reason is TARGETING_MATCH
    And there is no error code
    And the flag metadata "reason" is "RULE_MATCH"
    And the flag metadata "rule_id" is "staff"
    And the flag metadata "rule_index" is 0

  Scenario: A boolean flag that falls through
    When the boolean flag "checkout" is evaluated with default true and context {"targetingKey": "user-1", "email": "ana@example.com"}
    Then the value is false
    And the variant is "off"
    And the reason is DEFAULT
    And there is no error code
    And the flag metadata "reason" is "FALLTHROUGH"
    And the flag metadata has no "rule_id"

  Scenario: A string flag
    When the string flag "greeting" is evaluated with default "fallback" and context {"targetingKey": "user-1", "country": "AT"}
    Then the value is "hallo"
    And the variant is "de"
    And the reason is TARGETING_MATCH
    And there is no error code

  Scenario: An integer flag
    When the integer flag "max-items" is evaluated with default -1 and context {"targetingKey": "user-1", "plan": "pro"}
    Then the value is 250
    And the variant is "many"
    And the reason is TARGETING_MATCH
    And there is no error code
    And the flag metadata "rule_index" is 0
    And the flag metadata has no "rule_id"

  Scenario: A float flag
    When the float flag "ratio" is evaluated with default -1.5 and context {"targetingKey": "user-1"}
    Then the value is 0.75
    And the variant is "high"
    And the reason is DEFAULT
    And there is no error code

  Scenario: An integral number flag resolved as a float
    When the float flag "max-items" is evaluated with default -1.5 and context {"targetingKey": "user-1"}
    Then the value is 10
    And the variant is "few"
    And there is no error code

  Scenario: An object flag
    When the object flag "layout" is evaluated with default {"fallback": true} and context {"targetingKey": "user-1", "screen": 1920}
    Then the value is {"columns": 3, "dense": false, "sections": ["news", "sports"], "spacing": 1.5, "limits": {"daily": 1000}}
    And the variant is "grid"
    And the reason is TARGETING_MATCH
    And there is no error code
    And the flag metadata "rule_id" is "wide"

  Scenario: Flag metadata names the ruleset that answered
    When the string flag "greeting" is evaluated with default "fallback" and context {"targetingKey": "user-1"}
    Then the value is "hello"
    And the flag metadata "version" is 1
    And the flag metadata "environment" is "production"
    And the flag metadata "epoch" is a positive number
    And the flag metadata has no "stale"
