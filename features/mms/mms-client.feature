# mms-client scenarios (seed 000): the harness is the MMS Relay/Server (MMSC)
# the client is configured with (profile mms_client.mmsc_url). It puts an MM
# at a fresh Content-Location, pushes an M-Notification.ind — a connectionless
# WSP push in a UDP datagram to mms_client.wap_push (WDP over IP), or a SIP
# MESSAGE to mms_client.sip_push with +g.oma.pusheventapp="mms.ua" — and
# judges the client's HTTP requests: the GET, and the M-NotifyResp.ind or
# M-Acknowledge.ind it POSTs. The MMS server is shared by the run and serves
# the scenarios side by side: each judges the requests that carry its own
# Content-Location token or Transaction-IDs.
# A report counts by identity, not by time: Retrieved only after an answered
# GET of that notification's Content-Location and under its Transaction-ID,
# and a second report for the same transaction that says otherwise fails
# (watched 10 x T1, at least 200 ms, after the first).
@mms-client
Feature: An MMS client acts on pushed notifications, whatever the bearer and the address form

  @DEFER-5 @if:mms_wap_push
  Scenario: A notification pushed over WSP is fetched from its Content-Location and acknowledged
    Given the harness plays the MMS Relay/Server the client is configured with
    And an MM from "+15550000001/TYPE=PLMN" to "+15550000002/TYPE=PLMN" waits at the MMS server
    When the MMS server notifies the client by WAP Push
    Then the client fetches exactly the notification's Content-Location
    And the client acknowledges the MM with the notification's Transaction-ID once it has fetched it

  @DEFER-5 @if:mms_sip_push
  Scenario: A notification pushed over SIP is fetched from its Content-Location and acknowledged
    Given the harness plays the MMS Relay/Server the client is configured with
    And an MM from "+15550000001/TYPE=PLMN" to "+15550000002/TYPE=PLMN" waits at the MMS server
    When the MMS server notifies the client by Push over SIP
    Then the client fetches exactly the notification's Content-Location
    And the client acknowledges the MM with the notification's Transaction-ID once it has fetched it

  # RFC 3261 §26.2: the harness opens TLS to the client's sip_push_tls and
  # checks its certificate (the profile's tls section), then pushes there.
  @DEFER-5 @if:mms_sip_push_tls
  Scenario: A notification pushed over SIP over TLS is fetched from its Content-Location and acknowledged
    Given the harness plays the MMS Relay/Server the client is configured with
    And an MM from "+15550000001/TYPE=PLMN" to "+15550000002/TYPE=PLMN" waits at the MMS server
    When the MMS server notifies the client by Push over SIP over TLS
    Then the client fetches exactly the notification's Content-Location
    And the client acknowledges the MM with the notification's Transaction-ID once it has fetched it

  # OMA MMS ENC §7.3 (X-Mms-Content-Location): the MMS Relay/Server picks the
  # URI per MM, so it may be https:// (RFC 2818): the client opens TLS to its
  # port, checks the harness's certificate (the run's lab CA,
  # tls/lab-ca.pem), and sends the GET inside; plaintext there fails, with
  # what came. The port is this scenario's own listener (its pcap holds the
  # records and their secrets); the reports still go to the MMSC URL.
  @DEFER-5 @if:mms_https_retrieval
  Scenario: A notification with an https:// Content-Location is fetched over TLS and acknowledged
    Given the harness plays the MMS Relay/Server the client is configured with
    And an MM from "+15550000001/TYPE=PLMN" to "+15550000002/TYPE=PLMN" waits at an https:// Content-Location of the MMS server
    When the MMS server notifies the client by its push bearer
    Then the client fetches exactly the notification's Content-Location
    And the client acknowledges the MM with the notification's Transaction-ID once it has fetched it

  # What the client shows of decoding addresses is its verdict on the MM: the
  # From of the notification and the From and To of the M-Retrieve.conf must
  # not make it answer Unrecognised (or Rejected) or skip the MM.
  @ADDR-1
  Scenario Outline: Notifications and MMs with MSISDN and e-mail addresses are retrieved
    Given the harness plays the MMS Relay/Server the client is configured with
    And an MM from "<from>" to "<to>" waits at the MMS server
    When the MMS server notifies the client by its push bearer
    Then the client reports the MM retrieved, not refused for its addresses

    Examples:
      | from                       | to                     |
      | +15550000001/TYPE=PLMN     | +15550000002/TYPE=PLMN |
      | Alice <alice@liaison.test> | bob@liaison.test       |

  # SIP URIs are written as the profile declares (mms_client.sip_address_form).
  @ADDR-5
  Scenario Outline: Notifications and MMs with SIP URI addresses are retrieved
    Given the harness plays the MMS Relay/Server the client is configured with
    And an MM from "<from>" to "<to>" waits at the MMS server
    When the MMS server notifies the client by its push bearer
    Then the client reports the MM retrieved, not refused for its addresses

    Examples:
      | from                                         | to                   |
      | sip:alice@ims.liaison.test                   | the client's SIP URI |
      | sip:+15550000001@ims.liaison.test;user=phone | the client's SIP URI |

  # Acting on the other push is a fetch of its Content-Location or an
  # M-NotifyResp.ind (any status) for its Transaction-ID; fetching the mms.ua
  # MM more than once is allowed.
  @PUSH-5 @if:mms_wap_push
  Scenario Outline: A WSP push for another application is not acted on, one for mms.ua is
    Given the harness plays the MMS Relay/Server the client is configured with
    When the MMS server pushes a notification by WAP Push for the application "<app id>"
    And the MMS server pushes a notification by WAP Push for the application "x-wap-application:mms.ua"
    Then the client fetches the MM of the mms.ua push and nothing for the other application

    Examples:
      | app id                   |
      | x-wap-application:wml.ua |
      | x-oma-application:ulp.ua |

  # Seed 004 §6.2.1: the client gives an MM with X-Mms-Applic-ID to the
  # application it names. The hand-over is internal to the terminal, so it is
  # judged at the upper tester the profile declares (mms_client.upper_tester).
  @MEM-9 @if:mms_upper_tester
  Scenario: An MM with X-Mms-Applic-ID MEM is handed to the MEM application, not shown as an ordinary MM
    Given the harness plays the MMS Relay/Server the client is configured with
    And an MM for the application "MEM" from "+15550000001/TYPE=PLMN" to "+15550000002/TYPE=PLMN" waits at the MMS server
    When the MMS server notifies the client by its push bearer
    Then the client hands the MM to the application "MEM" through the upper tester, and does not show it as an ordinary MM

  # Last in the file: a client that dies here fails only these.
  # Sending needs the user: the profile's send trigger stands for it (the
  # suite's own interface, README). The URI carries an escape (%2B) and a
  # parameter, so that an address rewritten on the way shows.
  @ADDR-9 @if:mms_send
  Scenario: The client addresses an MM to a SIP URI, unchanged
    Given the harness plays the MMS Relay/Server the client is configured with
    When the client's user sends an MM to the SIP URI "sip:mms_15550000009;ctx=a%2Bb@ims.liaison.test"
    Then the MMS server receives the client's M-Send.req with that SIP URI in To, in the declared form, and the text

  # Still acting means a GET of the next notification's own Content-Location.
  # @alone: "the next one" must be this scenario's, so no other mms-client
  # scenario pushes meanwhile (a client that chokes on the malformed
  # notification would otherwise lose another scenario's, and fail it).
  @DEFER-6 @alone
  Scenario Outline: A malformed notification is refused without harm and the next one is acted on
    Given the harness plays the MMS Relay/Server the client is configured with
    When the MMS server pushes a notification <malformation> by its push bearer
    And an MM from "+15550000001/TYPE=PLMN" to "+15550000002/TYPE=PLMN" waits at the MMS server
    And the MMS server notifies the client by its push bearer
    Then the client answers the malformed notification with status Unrecognised or not at all, fetches nothing for it, and still fetches the next MM

    Examples:
      | malformation                           |
      | without X-Mms-Content-Location         |
      | cut off inside X-Mms-Content-Location  |
      | that is not an MMS PDU                 |
