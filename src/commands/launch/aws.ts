import type {CloudPlatform} from '../../app/launch.js'
import {LaunchCommand} from './_command.js'

export default class LaunchAws extends LaunchCommand {
  static override summary = "Launch the profile's nodes on EC2, with the user-data `render` produces."
  static override description = `One RunInstances per node: its fixed private IP in the profile's subnet, the AMI (the profile's
spec.platform.aws.ami or the image \`nodegen image build\` recorded), the instance type, key pair,
a security group per role with the role's ports (created or reused), IMDSv2 only with a hop limit
of 1, tags (nodegen.dev/cluster, node, role), and a ClientToken derived from cluster and node. With
endpoint nlb, an internal Network Load Balancer in front of the control planes is created first.
Waits until the instances run. Nodes that exist (by tag) are left alone: after a partial failure,
run the same command again to launch the rest. Credentials and region come from the AWS SDK's
standard chain (environment, ~/.aws, SSO, instance roles); nodegen stores none.`

  static override examples = [
    '<%= config.bin %> launch aws profiles/aws.yaml --dry-run',
    '<%= config.bin %> launch aws profiles/aws.yaml --dry-run --json',
    'AWS_PROFILE=ops <%= config.bin %> launch aws cluster.yaml --insecure-inline-secrets',
  ]

  // oclif spreads the command class into its parser options: only own statics count.
  static override args = LaunchCommand.args
  static override flags = LaunchCommand.flags

  protected readonly platform: CloudPlatform = 'aws'
}
