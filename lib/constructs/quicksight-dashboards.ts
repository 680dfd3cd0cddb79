import { Aws, CfnOutput, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as quicksight from 'aws-cdk-lib/aws-quicksight';
import { Construct } from 'constructs';
import { QUICKSIGHT_PRINCIPAL_ARN } from '../config/schema.js';
import {
  quickSightColumnType,
  quickSightDataSets,
  quickSightDefinition,
} from '../dashboards/quicksight-definition.js';
import { acknowledge, GRANT_ACTION_WILDCARDS, logicalIdOf } from './acknowledge.js';
import type { AnalyticsViews } from './analytics-views.js';
import type { DataCatalog } from './data-catalog.js';
import type { DataLakeStorage } from './data-lake-storage.js';

export interface QuickSightDashboardsProps {
  /** The analytics database and the workgroup the data source queries through. */
  readonly catalog: DataCatalog;
  /** The lake key and buckets the data source's role reads. */
  readonly storage: DataLakeStorage;
  /** The views the data sets read: every QuickSight resource is created after them. */
  readonly views: AnalyticsViews;
  /** ARN of the QuickSight user or group that owns the data source, data sets, analysis and dashboard. */
  readonly principalArn: string;
  /**
   * Prefix of every QuickSight id (data source, data sets, analysis, dashboard), unique per deployment
   * in the account.
   * @default 'customer360'
   */
  readonly idPrefix?: string;
}

// What QuickSight documents as the owner's actions on each kind of asset.
const DATA_SOURCE_OWNER = [
  'quicksight:DescribeDataSource',
  'quicksight:DescribeDataSourcePermissions',
  'quicksight:PassDataSource',
  'quicksight:UpdateDataSource',
  'quicksight:DeleteDataSource',
  'quicksight:UpdateDataSourcePermissions',
];
const DATA_SET_OWNER = [
  'quicksight:DescribeDataSet',
  'quicksight:DescribeDataSetPermissions',
  'quicksight:PassDataSet',
  'quicksight:DescribeIngestion',
  'quicksight:ListIngestions',
  'quicksight:UpdateDataSet',
  'quicksight:DeleteDataSet',
  'quicksight:CreateIngestion',
  'quicksight:CancelIngestion',
  'quicksight:UpdateDataSetPermissions',
];
const ANALYSIS_OWNER = [
  'quicksight:RestoreAnalysis',
  'quicksight:UpdateAnalysisPermissions',
  'quicksight:DeleteAnalysis',
  'quicksight:DescribeAnalysisPermissions',
  'quicksight:QueryAnalysis',
  'quicksight:DescribeAnalysis',
  'quicksight:UpdateAnalysis',
];
const DASHBOARD_OWNER = [
  'quicksight:DescribeDashboard',
  'quicksight:ListDashboardVersions',
  'quicksight:UpdateDashboardPermissions',
  'quicksight:QueryDashboard',
  'quicksight:UpdateDashboard',
  'quicksight:DeleteDashboard',
  'quicksight:DescribeDashboardPermissions',
  'quicksight:UpdateDashboardPublishedVersion',
];

export const QUICKSIGHT_OWNER_ACTIONS = {
  dataSource: DATA_SOURCE_OWNER,
  dataSet: DATA_SET_OWNER,
  analysis: ANALYSIS_OWNER,
  dashboard: DASHBOARD_OWNER,
} as const;

/**
 * QuickSight over the analytics views: an Athena data source on the project's workgroup that runs as a
 * role of its own (Athena in that workgroup, the analytics tables and views, the results location, the
 * lake key: nothing else), a direct-query data set per view, and an analysis and a dashboard built from
 * one definition in code, all owned by the configured QuickSight user or group.
 *
 * Direct query, not SPICE: every visual shows the latest publish the moment a run publishes, with no
 * SPICE capacity or refresh schedule to manage; the views are small aggregates, so a dashboard load
 * scans little. Queries run in the workgroup, so its scan cutoff and encrypted results apply to them.
 */
export class QuickSightDashboards extends Construct {
  public readonly role: iam.Role;
  public readonly dataSource: quicksight.CfnDataSource;
  public readonly dataSets: Readonly<Record<string, quicksight.CfnDataSet>>;
  public readonly analysis: quicksight.CfnAnalysis;
  public readonly dashboard: quicksight.CfnDashboard;
  public readonly dashboardId: string;

  constructor(scope: Construct, id: string, props: QuickSightDashboardsProps) {
    super(scope, id);
    const { catalog, storage } = props;
    if (!QUICKSIGHT_PRINCIPAL_ARN.test(props.principalArn)) {
      throw new Error(
        `principalArn must be a QuickSight user or group ARN (arn:aws:quicksight:<region>:<account>:user/<namespace>/<name>), got "${props.principalArn}"`,
      );
    }
    const prefix = props.idPrefix ?? 'customer360';
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,40}$/.test(prefix)) {
      throw new Error(`idPrefix must be letters, digits and dashes (at most 41), got "${prefix}"`);
    }
    const stack = Stack.of(this);
    const database = catalog.databaseNames.analytics;

    this.role = new iam.Role(this, 'DataSourceRole', {
      assumedBy: new iam.ServicePrincipal('quicksight.amazonaws.com'),
      description: 'QuickSight runs the Athena queries of the Customer 360 dashboards as this role',
    });
    // Athena in the workgroup, Glue reads of the analytics database (the views and the tables they
    // read), S3 reads of the analytics zone, read/write of the results location, the lake key.
    catalog.grantQuery(this.role, ['analytics']);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // QuickSight streams results, and lists the database's tables when an author adds a data set.
        actions: ['athena:GetQueryResultsStream'],
        resources: [
          stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: catalog.workGroupName }),
        ],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'athena:ListDatabases',
          'athena:GetDatabase',
          'athena:ListTableMetadata',
          'athena:GetTableMetadata',
        ],
        resources: [
          stack.formatArn({ service: 'athena', resource: 'datacatalog', resourceName: 'AwsDataCatalog' }),
        ],
      }),
    );

    const owner = (actions: readonly string[]) => [{ principal: props.principalArn, actions: [...actions] }];
    this.dataSource = new quicksight.CfnDataSource(this, 'DataSource', {
      awsAccountId: Aws.ACCOUNT_ID,
      dataSourceId: `${prefix}-athena`,
      name: `Customer 360 (${database})`,
      type: 'ATHENA',
      dataSourceParameters: {
        athenaParameters: { workGroup: catalog.workGroupName, roleArn: this.role.roleArn },
      },
      // QuickSight connects over TLS to Athena; nothing here goes over a VPC connection.
      sslProperties: { disableSsl: false },
      permissions: owner(DATA_SOURCE_OWNER),
    });
    // QuickSight checks the role when it creates the data source, so its policy must exist first (the
    // role itself is ordered by the reference to its ARN).
    const rolePolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (rolePolicy) this.dataSource.node.addDependency(rolePolicy);
    this.dataSource.node.addDependency(props.views.resource);

    const dataSets: Record<string, quicksight.CfnDataSet> = {};
    for (const spec of quickSightDataSets) {
      const dataSet = new quicksight.CfnDataSet(this, `DataSet-${spec.key}`, {
        awsAccountId: Aws.ACCOUNT_ID,
        dataSetId: `${prefix}-${spec.key.replaceAll('_', '-')}`,
        name: spec.name,
        importMode: 'DIRECT_QUERY',
        physicalTableMap: {
          view: {
            relationalTable: {
              dataSourceArn: this.dataSource.attrArn,
              catalog: 'AwsDataCatalog',
              schema: database,
              name: spec.view,
              inputColumns: spec.columns.map((c) => ({ name: c.name, type: quickSightColumnType(c.type) })),
            },
          },
        },
        permissions: owner(DATA_SET_OWNER),
      });
      // The view must exist when QuickSight creates the data set over it.
      dataSet.node.addDependency(props.views.resource);
      dataSets[spec.key] = dataSet;
    }
    this.dataSets = dataSets;

    const definition = quickSightDefinition(
      Object.fromEntries(Object.entries(dataSets).map(([key, ds]) => [key, ds.attrArn])),
    );
    this.analysis = new quicksight.CfnAnalysis(this, 'Analysis', {
      awsAccountId: Aws.ACCOUNT_ID,
      analysisId: `${prefix}-analysis`,
      name: 'Customer 360',
      definition,
      permissions: owner(ANALYSIS_OWNER),
    });
    this.dashboardId = `${prefix}-dashboard`;
    this.dashboard = new quicksight.CfnDashboard(this, 'Dashboard', {
      awsAccountId: Aws.ACCOUNT_ID,
      dashboardId: this.dashboardId,
      name: 'Customer 360',
      definition,
      permissions: owner(DASHBOARD_OWNER),
      versionDescription: 'Deployed by the Customer 360 stack',
      dashboardPublishOptions: {
        adHocFilteringOption: { availabilityStatus: 'ENABLED' },
        exportToCsvOption: { availabilityStatus: 'ENABLED' },
        sheetControlsOption: { visibilityState: 'EXPANDED' },
      },
    });

    new CfnOutput(stack, 'QuickSightDashboardId', { value: this.dashboardId });
    new CfnOutput(stack, 'QuickSightDashboardUrl', {
      value: `https://${Aws.REGION}.quicksight.aws.amazon.com/sn/dashboards/${this.dashboardId}`,
      description: 'Opens for the QuickSight user or group in quicksight.principalArn',
    });
    new CfnOutput(stack, 'QuickSightAnalysisUrl', {
      value: `https://${Aws.REGION}.quicksight.aws.amazon.com/sn/analyses/${prefix}-analysis`,
      description: 'The analysis behind the dashboard, for authors',
    });

    acknowledgeRoleFindings(this.role, database, storage);
  }
}

function acknowledgeRoleFindings(role: iam.IRole, database: string, storage: DataLakeStorage): void {
  acknowledge(role, {
    ...GRANT_ACTION_WILDCARDS,
    [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${database}/*]`]:
      'Reads of the tables and views of the analytics database: a query of a view reads the views and run tables beneath it, and an author may add a data set over any of them.',
    [`AwsSolutions-IAM5[Resource::<${logicalIdOf(storage.analyticsBucket)}.Arn>/*]`]:
      "Objects of the analytics bucket: the views read the published run's partitions, under run-date prefixes known only at run time.",
    [`AwsSolutions-IAM5[Resource::<${logicalIdOf(storage.athenaResultsBucket)}.Arn>/*]`]:
      "Athena writes and QuickSight reads each query's result under its own query id in the results bucket.",
  });
}
