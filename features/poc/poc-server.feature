@poc-server @if:sip @if:ims @alone
Feature: PoC signalling, the SUT as a PoC server behind the IMS core
  Seed 003 puts PoC first among the enablers whose use of the IMS must be
  aligned. A PoC server sets up a pre-arranged group session when a
  member INVITEs the group's URI through the core: it invites every other
  member through the core, asking for the PoC feature with Accept-Contact
  (RFC 3841 §9.2), and answers the originator once a member accepted. Who
  is a member is judged on the identity the trusted core asserted
  (RFC 3325 §5), never on the From a caller wrote. Only the signalling is
  checked: no media is sent (POC-4). The group and its members are the
  profile's (poc.group, poc.members); the harness plays every member,
  known to the core by AoR, and the callers who are not members. The
  scenarios take turns (@alone): the members are the same in each.

  Background:
    Given the SUT plays the role "poc-server"
    And the harness IMS core serves the scenario

  @POC-1
  Scenario: A member's INVITE to the group invites every other member through the core
    Given the members of the SUT's pre-arranged group are online behind the core
    When the first member invites the group through the core
    Then the first member gets a 2xx with an SDP answer
    And every other member receives one INVITE from the SUT through the core
    And the SUT invites nobody else
    When the first member ends the group session
    Then every member leg the SUT set up is ended with a BYE through the core

  @POC-2
  Scenario: A caller who is no member is refused whatever its From or forged identity says
    Given the members of the SUT's pre-arranged group are online behind the core
    And a caller "mallory" who is no member and writes the From of the first member
    When "mallory" invites the group through the core
    Then the SUT refuses the INVITE with 403
    When "mallory" invites the group straight to the SUT, forging the first member's P-Asserted-Identity
    Then the SUT refuses the INVITE with 403, or challenges it with 401 or 407
    And no member is invited for SIP Timer F

  @POC-3
  Scenario: The INVITEs to the members require the PoC talk-burst feature
    Given the members of the SUT's pre-arranged group are online behind the core
    When the first member invites the group through the core
    Then every INVITE the SUT sends to a member requires +g.poc.talkburst explicitly
