"""The depth continuum: vector fields, flows, ResNets, plain nets and training.

Sits on `_width`; never imports `_transport`, `_dae`, `_plot` or `_cli`.
"""

from ._checkpoint import (
    load_field as load_field,
    save_field as save_field,
)
from ._field import (
    RidgeletField as RidgeletField,
)
from ._fit import (
    fit as fit,
    mse_loss as mse_loss,
    sinkhorn_loss as sinkhorn_loss,
)
from ._flow import flow as flow
from ._plainnet import (
    plain_net_flow as plain_net_flow,
    PlainNetField as PlainNetField,
    refine as refine,
    rotation_log as rotation_log,
)
from ._resnet import (
    AbstractResNet as AbstractResNet,
    euler_network as euler_network,
    EulerNetwork as EulerNetwork,
    ResNet as ResNet,
)
from ._resnet_field import (
    field_from_resnet as field_from_resnet,
    ResNetField as ResNetField,
)
from ._result import (
    flow_entropy as flow_entropy,
    FlowResult as FlowResult,
)
from ._solvers import RK4 as RK4
from ._vector_field import (
    AbstractUnitField as AbstractUnitField,
    AbstractVectorField as AbstractVectorField,
)
